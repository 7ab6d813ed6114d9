# match-hellos.awk - is every ClientHello tshark decodes reported by hellowatch?
# Usage: awk -F'\t' -f bench/match-hellos.awk HELLOWATCH.jsonl TSHARK.tsv
# TSHARK.tsv: tshark -T fields -e ip.src -e ipv6.src -e tcp.srcport -e ip.dst
# -e ipv6.dst -e tcp.dstport -e tls.handshake.extensions_server_name (one
# line per ClientHello). Each tshark hello is matched to a hellowatch record of
# the same connection (client and server address:port) and SNI; 5-tuples can
# be reused, so records are counted per (client, server, SNI).
FNR == NR {
	if (!match($0, /"client":"[^"]*"/)) next
	c = substr($0, RSTART + 10, RLENGTH - 11)
	match($0, /"server":"[^"]*"/); s = substr($0, RSTART + 10, RLENGTH - 11)
	sni = ""
	if (match($0, /"server_name":"[^"]*"/)) sni = substr($0, RSTART + 15, RLENGTH - 16)
	conn[c " " s]++
	rec[c " " s " " sni]++
	next
}
{
	n++
	src = ($1 != "") ? $1 ":" $3 : "[" $2 "]:" $3
	dst = ($4 != "") ? $4 ":" $6 : "[" $5 "]:" $6
	k = src " " dst
	if ($7 == "") nosni++
	if (rec[k " " $7] > 0) { rec[k " " $7]--; same++; next }
	if (conn[k] > 0) { other++; if (other <= 5) print "no record with this SNI: " k " tshark sni=" $7 > "/dev/stderr"; next }
	missing++
	if (missing <= 5) print "missing: " k " sni=" $7 > "/dev/stderr"
}
END { printf "tshark ClientHellos %d (%d without SNI): matched to a hellowatch record of the same connection and SNI %d, connection reported with another SNI %d, connection not reported %d\n", n, nosni, same, other + 0, missing + 0 }
