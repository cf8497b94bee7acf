//go:build amd64 && !noasm

#include "textflag.h"

// func gemm3x4(x0, x1, x2, w *float32, wstride, n int, acc *[12][32]float32)
// The dot products of three rows of X (x0, x1, x2) with four widened rows
// of W (w, w+wstride, w+2·wstride, w+3·wstride, wstride in bytes) over n
// elements (a multiple of 32), each kept in 32 lanes as dotGo keeps them:
// output (r, c) sums in Z[2(4r+c)] the elements i ≡ 0…15 (mod 32) and in
// Z[2(4r+c)+1] those ≡ 16…31, products rounded to float32 before the add
// (VMULPS then VADDPS, no FMA). The 24 accumulators go to acc[4r+c]; per
// 32 elements it loads 14 vectors for 24 multiplies and 24 adds.

// ROWH multiplies the half-step of one X row (at OFF(BASE)(BX*1)) by the
// four W vectors Z24–Z27 and adds the products to A0–A3.
#define ROWH(OFF, BASE, A0, A1, A2, A3) \
	VMOVUPS OFF(BASE)(BX*1), Z28 \
	VMULPS  Z24, Z28, Z29 \
	VMULPS  Z25, Z28, Z30 \
	VMULPS  Z26, Z28, Z31 \
	VADDPS  Z29, A0, A0 \
	VMULPS  Z27, Z28, Z29 \
	VADDPS  Z30, A1, A1 \
	VADDPS  Z31, A2, A2 \
	VADDPS  Z29, A3, A3

// HALF0 and HALF1 are the two half-steps (16 elements each) of all twelve
// outputs: W's four vectors, then each X row against them.
#define HALF0 \
	VMOVUPS 0(R9)(BX*1), Z24 \
	VMOVUPS 0(R11)(BX*1), Z25 \
	VMOVUPS 0(R12)(BX*1), Z26 \
	VMOVUPS 0(R13)(BX*1), Z27 \
	ROWH(0, SI, Z0, Z2, Z4, Z6) \
	ROWH(0, DI, Z8, Z10, Z12, Z14) \
	ROWH(0, R8, Z16, Z18, Z20, Z22)

#define HALF1 \
	VMOVUPS 64(R9)(BX*1), Z24 \
	VMOVUPS 64(R11)(BX*1), Z25 \
	VMOVUPS 64(R12)(BX*1), Z26 \
	VMOVUPS 64(R13)(BX*1), Z27 \
	ROWH(64, SI, Z1, Z3, Z5, Z7) \
	ROWH(64, DI, Z9, Z11, Z13, Z15) \
	ROWH(64, R8, Z17, Z19, Z21, Z23)

TEXT ·gemm3x4(SB), NOSPLIT, $0-56
	MOVQ x0+0(FP), SI
	MOVQ x1+8(FP), DI
	MOVQ x2+16(FP), R8
	MOVQ w+24(FP), R9
	MOVQ wstride+32(FP), R10
	MOVQ n+40(FP), CX
	MOVQ acc+48(FP), DX
	LEAQ (R9)(R10*1), R11
	LEAQ (R11)(R10*1), R12
	LEAQ (R12)(R10*1), R13
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23
	SHLQ $2, CX
	XORQ BX, BX
	CMPQ BX, CX
	JGE  done
loop:
	HALF0
	HALF1
	ADDQ $128, BX
	CMPQ BX, CX
	JLT  loop
done:
	VMOVUPS Z0, 0(DX)
	VMOVUPS Z1, 64(DX)
	VMOVUPS Z2, 128(DX)
	VMOVUPS Z3, 192(DX)
	VMOVUPS Z4, 256(DX)
	VMOVUPS Z5, 320(DX)
	VMOVUPS Z6, 384(DX)
	VMOVUPS Z7, 448(DX)
	VMOVUPS Z8, 512(DX)
	VMOVUPS Z9, 576(DX)
	VMOVUPS Z10, 640(DX)
	VMOVUPS Z11, 704(DX)
	VMOVUPS Z12, 768(DX)
	VMOVUPS Z13, 832(DX)
	VMOVUPS Z14, 896(DX)
	VMOVUPS Z15, 960(DX)
	VMOVUPS Z16, 1024(DX)
	VMOVUPS Z17, 1088(DX)
	VMOVUPS Z18, 1152(DX)
	VMOVUPS Z19, 1216(DX)
	VMOVUPS Z20, 1280(DX)
	VMOVUPS Z21, 1344(DX)
	VMOVUPS Z22, 1408(DX)
	VMOVUPS Z23, 1472(DX)
	VZEROUPPER
	RET

// func widenBF16(dst *float32, src *uint16, n int)
// dst[i] = float32 of the bf16 src[i] for i < n (a multiple of 16).
TEXT ·widenBF16(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   wdone
wloop:
	VPMOVZXWD (SI), Z0
	VPSLLD    $16, Z0, Z0
	VMOVUPS   Z0, (DI)
	ADDQ      $32, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       wloop
wdone:
	VZEROUPPER
	RET

// func prefetchL2(p *byte, n int)
// Asks for the n bytes at p (whole 64-byte lines) to be brought into L2.
TEXT ·prefetchL2(SB), NOSPLIT, $0-16
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	ADDQ SI, CX
ploop:
	CMPQ SI, CX
	JGE  pdone
	PREFETCHT1 (SI)
	ADDQ $64, SI
	JMP  ploop
pdone:
	RET

// func reduce12(acc *[12][32]float32, out *[12]float32)
// out[j] = reduce32(&acc[j]): the same tree (lane k with k+16, then k+8,
// k+4, k+2, k+1), each add with the lower lanes as its first operand as
// the scalar s[k] += s[k+h] has (which NaN comes out when both are).
TEXT ·reduce12(SB), NOSPLIT, $0-16
	MOVQ acc+0(FP), SI
	MOVQ out+8(FP), DI
	MOVQ $12, CX
rloop:
	VMOVUPS       (SI), Z0
	VADDPS        64(SI), Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VMOVHLPS      X0, X0, X1
	VADDPS        X1, X0, X0
	VMOVSHDUP     X0, X1
	VADDSS        X1, X0, X0
	VMOVSS        X0, (DI)
	ADDQ          $128, SI
	ADDQ          $4, DI
	DECQ          CX
	JNZ           rloop
	VZEROUPPER
	RET
