// Package communityid computes the Community ID v1 flow hash
// (https://github.com/corelight/community-id-spec): the string that Zeek,
// Suricata, Elastic and others put beside a flow record so that records of
// the same connection from different tools can be joined with a string
// comparison, e.g. "1:wCb3OG7yAFWelaUydu0D+125CLM=".
//
// The hash is SHA-1 over the seed (2 bytes), the two addresses (4 or 16
// bytes each), the IP protocol number, a zero byte and, for TCP, UDP, SCTP,
// ICMP and ICMPv6, the two ports (2 bytes each), all in network byte order;
// the endpoints are put in order first (the numerically smaller address
// first, the smaller port when the addresses are equal), so that both
// directions of a flow hash alike. The digest is base64-encoded behind the
// version prefix "1:".
//
// The package has no I/O and no dependencies beyond the standard library;
// [Flow.Append] does not allocate.
package communityid
