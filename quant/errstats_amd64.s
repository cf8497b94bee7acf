//go:build amd64 && !noasm

#include "textflag.h"

// func errSums16(x, q *float32, n int, se, sx *[16]float64)
// For n a multiple of 16: chain k of se gains (q[i]−x[i])² and chain k of sx
// gains x[i]², for every i ≡ k (mod 16), each by one fused multiply-add in
// float64, in order of i (errSums16Go is the same arithmetic).
TEXT ·errSums16(SB), NOSPLIT, $0-40
	MOVQ x+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ se+24(FP), AX
	MOVQ sx+32(FP), BX
	VMOVUPD 0(AX), Y0
	VMOVUPD 32(AX), Y1
	VMOVUPD 64(AX), Y2
	VMOVUPD 96(AX), Y3
	VMOVUPD 0(BX), Y4
	VMOVUPD 32(BX), Y5
	VMOVUPD 64(BX), Y6
	VMOVUPD 96(BX), Y7
	SHRQ $4, CX
	JZ   store

loop:
	VCVTPS2PD 0(SI), Y8
	VCVTPS2PD 16(SI), Y9
	VCVTPS2PD 32(SI), Y10
	VCVTPS2PD 48(SI), Y11
	VCVTPS2PD 0(DI), Y12
	VCVTPS2PD 16(DI), Y13
	VCVTPS2PD 32(DI), Y14
	VCVTPS2PD 48(DI), Y15
	VFMADD231PD Y8, Y8, Y4
	VFMADD231PD Y9, Y9, Y5
	VFMADD231PD Y10, Y10, Y6
	VFMADD231PD Y11, Y11, Y7
	VSUBPD Y8, Y12, Y12
	VSUBPD Y9, Y13, Y13
	VSUBPD Y10, Y14, Y14
	VSUBPD Y11, Y15, Y15
	VFMADD231PD Y12, Y12, Y0
	VFMADD231PD Y13, Y13, Y1
	VFMADD231PD Y14, Y14, Y2
	VFMADD231PD Y15, Y15, Y3
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  loop

store:
	VMOVUPD Y0, 0(AX)
	VMOVUPD Y1, 32(AX)
	VMOVUPD Y2, 64(AX)
	VMOVUPD Y3, 96(AX)
	VMOVUPD Y4, 0(BX)
	VMOVUPD Y5, 32(BX)
	VMOVUPD Y6, 64(BX)
	VMOVUPD Y7, 96(BX)
	VZEROUPPER
	RET

// func nonFinite32(x *float32, n int) bool
// For n a multiple of 32: whether any x[i] has an all-ones exponent (NaN or
// ±Inf).
TEXT ·nonFinite32(SB), NOSPLIT, $0-17
	MOVQ x+0(FP), SI
	MOVQ n+8(FP), CX
	MOVL $0x7f800000, AX
	MOVD AX, X15
	VPBROADCASTD X15, Y15
	VPXOR Y0, Y0, Y0
	SHRQ $5, CX
	JZ   done

loop:
	VPAND   0(SI), Y15, Y1
	VPAND   32(SI), Y15, Y2
	VPAND   64(SI), Y15, Y3
	VPAND   96(SI), Y15, Y4
	VPCMPEQD Y15, Y1, Y1
	VPCMPEQD Y15, Y2, Y2
	VPCMPEQD Y15, Y3, Y3
	VPCMPEQD Y15, Y4, Y4
	VPOR    Y1, Y2, Y2
	VPOR    Y3, Y4, Y4
	VPOR    Y2, Y0, Y0
	VPOR    Y4, Y0, Y0
	ADDQ $128, SI
	DECQ CX
	JNZ  loop

done:
	VPTEST Y0, Y0
	SETNE  ret+16(FP)
	VZEROUPPER
	RET
