//go:build amd64 && !noasm

#include "textflag.h"

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

// func gemm6x4h(x *float32, xstride int, w *float32, wstride, n int, acc *float32, zero bool)
// Adds to acc (with zero: sets acc to) one half of the 32 lanes of dotGo
// for six rows of X (at x, xstride bytes apart, the half's elements being
// 16 of every 32: i ≡ 0…15 mod 32 at x, ≡ 16…31 at x+16) against four
// widened rows of W (at w, wstride bytes apart, the half's elements
// contiguous, as the panels hold them) over n elements of X (a multiple of
// 32): output (r, c) sums in Z(4r+c), products rounded to float32 before
// the add as dotGo does. Per 32 elements it loads 4 vectors of W and 6 of
// X for 24 multiplies and 24 adds: W, which streams from L2, is loaded
// half as often per product as a 3×4 tile of both halves would, and the
// half of X's lines a pass touches stays in L1.

// ROW6 multiplies one X row's vector (at 0(BASE)(BX*1)) by the four W
// vectors Z24–Z27 and adds the products to A0–A3.
#define ROW6(BASE, A0, A1, A2, A3) \
	VMOVUPS (BASE)(BX*1), Z28 \
	VMULPS  Z24, Z28, Z29 \
	VMULPS  Z25, Z28, Z30 \
	VMULPS  Z26, Z28, Z31 \
	VADDPS  Z29, A0, A0 \
	VMULPS  Z27, Z28, Z29 \
	VADDPS  Z30, A1, A1 \
	VADDPS  Z31, A2, A2 \
	VADDPS  Z29, A3, A3

TEXT ·gemm6x4h(SB), NOSPLIT, $0-49
	MOVQ x+0(FP), SI
	MOVQ xstride+8(FP), R10
	MOVQ w+16(FP), R9
	MOVQ wstride+24(FP), DX
	LEAQ (SI)(R10*1), DI
	LEAQ (DI)(R10*1), R8
	LEAQ (R8)(R10*1), R11
	LEAQ (R11)(R10*1), R12
	LEAQ (R12)(R10*1), R13
	LEAQ (R9)(DX*1), AX
	LEAQ (AX)(DX*1), R10
	LEAQ (R10)(DX*1), DX
	MOVQ acc+40(FP), BX
	CMPB zero+48(FP), $0
	JNE  zero6
	VMOVUPS 0(BX), Z0
	VMOVUPS 64(BX), Z1
	VMOVUPS 128(BX), Z2
	VMOVUPS 192(BX), Z3
	VMOVUPS 256(BX), Z4
	VMOVUPS 320(BX), Z5
	VMOVUPS 384(BX), Z6
	VMOVUPS 448(BX), Z7
	VMOVUPS 512(BX), Z8
	VMOVUPS 576(BX), Z9
	VMOVUPS 640(BX), Z10
	VMOVUPS 704(BX), Z11
	VMOVUPS 768(BX), Z12
	VMOVUPS 832(BX), Z13
	VMOVUPS 896(BX), Z14
	VMOVUPS 960(BX), Z15
	VMOVUPS 1024(BX), Z16
	VMOVUPS 1088(BX), Z17
	VMOVUPS 1152(BX), Z18
	VMOVUPS 1216(BX), Z19
	VMOVUPS 1280(BX), Z20
	VMOVUPS 1344(BX), Z21
	VMOVUPS 1408(BX), Z22
	VMOVUPS 1472(BX), Z23
	JMP  ready6
zero6:
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
ready6:
	MOVQ n+32(FP), CX
	SHLQ $2, CX
	XORQ BX, BX
	CMPQ BX, CX
	JGE  done6
loop6:
	VMOVUPS (R9), Z24
	VMOVUPS (AX), Z25
	VMOVUPS (R10), Z26
	VMOVUPS (DX), Z27
	ADDQ    $64, R9
	ADDQ    $64, AX
	ADDQ    $64, R10
	ADDQ    $64, DX
	ROW6(SI, Z0, Z1, Z2, Z3)
	ROW6(DI, Z4, Z5, Z6, Z7)
	ROW6(R8, Z8, Z9, Z10, Z11)
	ROW6(R11, Z12, Z13, Z14, Z15)
	ROW6(R12, Z16, Z17, Z18, Z19)
	ROW6(R13, Z20, Z21, Z22, Z23)
	ADDQ $128, BX
	CMPQ BX, CX
	JLT  loop6
done6:
	MOVQ acc+40(FP), DI
	VMOVUPS Z0, 0(DI)
	VMOVUPS Z1, 64(DI)
	VMOVUPS Z2, 128(DI)
	VMOVUPS Z3, 192(DI)
	VMOVUPS Z4, 256(DI)
	VMOVUPS Z5, 320(DI)
	VMOVUPS Z6, 384(DI)
	VMOVUPS Z7, 448(DI)
	VMOVUPS Z8, 512(DI)
	VMOVUPS Z9, 576(DI)
	VMOVUPS Z10, 640(DI)
	VMOVUPS Z11, 704(DI)
	VMOVUPS Z12, 768(DI)
	VMOVUPS Z13, 832(DI)
	VMOVUPS Z14, 896(DI)
	VMOVUPS Z15, 960(DI)
	VMOVUPS Z16, 1024(DI)
	VMOVUPS Z17, 1088(DI)
	VMOVUPS Z18, 1152(DI)
	VMOVUPS Z19, 1216(DI)
	VMOVUPS Z20, 1280(DI)
	VMOVUPS Z21, 1344(DI)
	VMOVUPS Z22, 1408(DI)
	VMOVUPS Z23, 1472(DI)
	VZEROUPPER
	RET

// func reduce24(lo, hi, out *float32)
// out[j] = reduce32 of the 32 lanes lo[16j:16j+16] ‖ hi[16j:16j+16] for
// j < 24: the same tree (lane k with k+16, then k+8, k+4, k+2, k+1), each
// add with the lower lanes as its first operand as the scalar s[k] +=
// s[k+h] has (which NaN comes out when both are).
TEXT ·reduce24(SB), NOSPLIT, $0-24
	MOVQ lo+0(FP), SI
	MOVQ hi+8(FP), DX
	MOVQ out+16(FP), DI
	MOVQ $24, CX
r24loop:
	VMOVUPS       (SI), Z0
	VADDPS        (DX), Z0, Z0
	VEXTRACTF32X8 $1, Z0, Y1
	VADDPS        Y1, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VMOVHLPS      X0, X0, X1
	VADDPS        X1, X0, X0
	VMOVSHDUP     X0, X1
	VADDSS        X1, X0, X0
	VMOVSS        X0, (DI)
	ADDQ          $64, SI
	ADDQ          $64, DX
	ADDQ          $4, DI
	DECQ          CX
	JNZ           r24loop
	VZEROUPPER
	RET

// func gemm3x3q(x *float32, xstride int, w *float32, wstride, n int, acc *float32, zero bool)
// gemm6x4h for CPUs without AVX-512 (16 registers): adds to acc (with
// zero: sets acc to) one quarter of the 32 lanes of dotGo (8 lanes: the
// elements i ≡ 0…7 mod 32 at x, x+8 for the next quarter, and so on; W's
// quarter contiguous) for three rows of X against three widened rows of W,
// over n elements of X (a multiple of 32): output (r, c) in Y(3r+c),
// acc[8(3r+c):].
// Per 32 elements it loads 3 vectors of W and 3 of X for 9 multiplies and
// 9 adds. Nine accumulators, three vectors of W, one of X and three
// products take all 16 registers: the last row's products go into W's
// registers, which it no longer needs.

// ROW3 multiplies one X row's vector (at (BASE)(BX*1)) by the W vectors
// Y9–Y11 into T0, T1, T2 and adds them to A0–A2.
#define ROW3(BASE, A0, A1, A2, T0, T1, T2) \
	VMOVUPS (BASE)(BX*1), Y12 \
	VMULPS  Y9, Y12, T0 \
	VMULPS  Y10, Y12, T1 \
	VADDPS  T0, A0, A0 \
	VMULPS  Y11, Y12, T2 \
	VADDPS  T1, A1, A1 \
	VADDPS  T2, A2, A2

TEXT ·gemm3x3q(SB), NOSPLIT, $0-49
	MOVQ x+0(FP), SI
	MOVQ xstride+8(FP), R10
	MOVQ w+16(FP), R9
	MOVQ wstride+24(FP), DX
	MOVQ n+32(FP), CX
	MOVQ acc+40(FP), AX
	LEAQ (SI)(R10*1), DI
	LEAQ (DI)(R10*1), R8
	LEAQ (R9)(DX*1), R11
	LEAQ (R11)(DX*1), R12
	CMPB zero+48(FP), $0
	JNE  zero3
	VMOVUPS 0(AX), Y0
	VMOVUPS 32(AX), Y1
	VMOVUPS 64(AX), Y2
	VMOVUPS 96(AX), Y3
	VMOVUPS 128(AX), Y4
	VMOVUPS 160(AX), Y5
	VMOVUPS 192(AX), Y6
	VMOVUPS 224(AX), Y7
	VMOVUPS 256(AX), Y8
	JMP  ready3
zero3:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
ready3:
	SHLQ $2, CX
	XORQ BX, BX
	CMPQ BX, CX
	JGE  done3
loop3:
	VMOVUPS (R9), Y9
	VMOVUPS (R11), Y10
	VMOVUPS (R12), Y11
	ADDQ    $32, R9
	ADDQ    $32, R11
	ADDQ    $32, R12
	ROW3(SI, Y0, Y1, Y2, Y13, Y14, Y15)
	ROW3(DI, Y3, Y4, Y5, Y13, Y14, Y15)
	ROW3(R8, Y6, Y7, Y8, Y9, Y10, Y11)
	ADDQ $128, BX
	CMPQ BX, CX
	JLT  loop3
done3:
	VMOVUPS Y0, 0(AX)
	VMOVUPS Y1, 32(AX)
	VMOVUPS Y2, 64(AX)
	VMOVUPS Y3, 96(AX)
	VMOVUPS Y4, 128(AX)
	VMOVUPS Y5, 160(AX)
	VMOVUPS Y6, 192(AX)
	VMOVUPS Y7, 224(AX)
	VMOVUPS Y8, 256(AX)
	VZEROUPPER
	RET

// func widenBF16h(dst *float32, half int, src *uint16, n int)
// Widens n bf16 values (a multiple of 32) into the panel layout of two
// 16-lane parts: of every 32, the first 16 go on at dst, the other 16 at
// dst+half (bytes), each part contiguous.
TEXT ·widenBF16h(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ half+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	SHRQ $5, CX
	JZ   whdone
whloop:
	VPMOVZXWD (SI), Z0
	VPMOVZXWD 32(SI), Z1
	VPSLLD    $16, Z0, Z0
	VPSLLD    $16, Z1, Z1
	VMOVUPS   Z0, (DI)
	VMOVUPS   Z1, (DI)(R8*1)
	ADDQ      $64, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       whloop
whdone:
	VZEROUPPER
	RET

// func widenBF16q(dst *float32, quarter int, src *uint16, n int)
// widenBF16h for four 8-lane parts (AVX2): of every 32 values, the q-th 8
// go on at dst+q·quarter (bytes).
TEXT ·widenBF16q(SB), NOSPLIT, $0-32
	MOVQ dst+0(FP), DI
	MOVQ quarter+8(FP), R8
	MOVQ src+16(FP), SI
	MOVQ n+24(FP), CX
	LEAQ (DI)(R8*2), R9
	SHRQ $5, CX
	JZ   wqdone
wqloop:
	VPMOVZXWD (SI), Y0
	VPMOVZXWD 16(SI), Y1
	VPMOVZXWD 32(SI), Y2
	VPMOVZXWD 48(SI), Y3
	VPSLLD    $16, Y0, Y0
	VPSLLD    $16, Y1, Y1
	VPSLLD    $16, Y2, Y2
	VPSLLD    $16, Y3, Y3
	VMOVUPS   Y0, (DI)
	VMOVUPS   Y1, (DI)(R8*1)
	VMOVUPS   Y2, (R9)
	VMOVUPS   Y3, (R9)(R8*1)
	ADDQ      $64, SI
	ADDQ      $32, DI
	ADDQ      $32, R9
	DECQ      CX
	JNZ       wqloop
wqdone:
	VZEROUPPER
	RET
