//go:build amd64 && !noasm

#include "textflag.h"

DATA vdones<>+0(SB)/2, $1
GLOBL vdones<>(SB), RODATA|NOPTR, $2

// BLOCKSUM leaves in R the eight int32 partial sums of one block's 32
// products w·a: w at off(SI) + 2 (after the f16 scale), a at aoff(DI).
// |w| times a·sign(w) as unsigned·signed bytes (VPMADDUBSW; codes lie in
// −127 … 127, so pair sums fit int16), then pairs of int16 into int32
// (VPMADDWD with ones). Uses Y13–Y15; Y12 holds int16 ones.
#define BLOCKSUM(off, aoff, R) \
	VMOVDQU off+2(SI), Y13; \
	VMOVDQU aoff(DI), Y14; \
	VPABSB Y13, Y15; \
	VPSIGNB Y13, Y14, Y14; \
	VPMADDUBSW Y14, Y15, Y15; \
	VPMADDWD Y12, Y15, R

// func dotQ8x8(w *byte, q *int8, d *float32, groups int, acc *[8]float32)
// Eight blocks per group: block k of a group into lane k of acc, as
// acc[k] += float32(Σ w·a) · float32(dw·da), the integer sums exact.
TEXT ·dotQ8x8(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ d+16(FP), DX
	MOVQ groups+24(FP), CX
	MOVQ acc+32(FP), R8
	VMOVUPS (R8), Y11
	VPBROADCASTW vdones<>(SB), Y12
loop:
	BLOCKSUM(0, 0, Y0)
	BLOCKSUM(34, 32, Y1)
	BLOCKSUM(68, 64, Y2)
	BLOCKSUM(102, 96, Y3)
	BLOCKSUM(136, 128, Y4)
	BLOCKSUM(170, 160, Y5)
	BLOCKSUM(204, 192, Y6)
	BLOCKSUM(238, 224, Y7)
	// the eight blocks' sums into one vector, block k in lane k
	VPHADDD Y1, Y0, Y0
	VPHADDD Y3, Y2, Y2
	VPHADDD Y5, Y4, Y4
	VPHADDD Y7, Y6, Y6
	VPHADDD Y2, Y0, Y0
	VPHADDD Y6, Y4, Y4
	VPERM2I128 $0x20, Y4, Y0, Y1
	VPERM2I128 $0x31, Y4, Y0, Y2
	VPADDD Y2, Y1, Y0
	VCVTDQ2PS Y0, Y0
	// the weight scales (f16, 34 bytes apart) times the activation's
	MOVWLZX 0(SI), AX
	VMOVD AX, X8
	VPINSRW $1, 34(SI), X8, X8
	VPINSRW $2, 68(SI), X8, X8
	VPINSRW $3, 102(SI), X8, X8
	VPINSRW $4, 136(SI), X8, X8
	VPINSRW $5, 170(SI), X8, X8
	VPINSRW $6, 204(SI), X8, X8
	VPINSRW $7, 238(SI), X8, X8
	VCVTPH2PS X8, Y8
	VMULPS (DX), Y8, Y8
	VMULPS Y8, Y0, Y0
	VADDPS Y0, Y11, Y11
	ADDQ $272, SI
	ADDQ $256, DI
	ADDQ $32, DX
	DECQ CX
	JNZ loop
	VMOVUPS Y11, (R8)
	VZEROUPPER
	RET
