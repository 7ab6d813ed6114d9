#include "textflag.h"

// func lines(p *byte, n uintptr)
// Asks the CPU to load the cache lines of p[0:n] (PRFM PLDL1KEEP). A hint:
// it never faults and never changes memory.
TEXT ·lines(SB), NOSPLIT, $0-16
	MOVD p+0(FP), R0
	MOVD n+8(FP), R1
	ADD  R0, R1, R1
loop:
	CMP  R1, R0
	BHS  done
	PRFM (R0), PLDL1KEEP
	ADD  $64, R0, R0
	B    loop
done:
	RET
