//go:build tools

package main

import (
	_ "github.com/google/gopacket"
	_ "github.com/google/gopacket/pcap"
	_ "github.com/google/gopacket/pcapgo"
	_ "github.com/prometheus/client_golang/prometheus"
	_ "github.com/prometheus/client_golang/prometheus/testutil"
	_ "golang.org/x/sys/unix"
)
