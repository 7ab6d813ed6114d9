package main

import (
	"fmt"
	"strconv"
	"strings"
)

// portList is a flag of UDP ports: comma-separated, repeatable.
type portList []uint16

func (p *portList) String() string {
	if p == nil {
		return ""
	}
	s := make([]string, len(*p))
	for i, v := range *p {
		s[i] = strconv.Itoa(int(v))
	}
	return strings.Join(s, ",")
}

func (p *portList) Set(v string) error {
	for f := range strings.SplitSeq(v, ",") {
		f = strings.TrimSpace(f)
		n, err := strconv.ParseUint(f, 10, 16)
		if err != nil || n == 0 {
			return fmt.Errorf("%q is not a UDP port (1-65535)", f)
		}
		*p = append(*p, uint16(n))
	}
	return nil
}
