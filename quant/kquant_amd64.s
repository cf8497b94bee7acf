//go:build amd64 && !noasm

#include "textflag.h"

DATA qxmagic<>+0(SB)/4, $12582912.0
GLOBL qxmagic<>(SB), RODATA|NOPTR, $4
DATA qxmant<>+0(SB)/4, $0x007fffff
GLOBL qxmant<>(SB), RODATA|NOPTR, $4
DATA qxbias<>+0(SB)/4, $0x00400000
GLOBL qxbias<>(SB), RODATA|NOPTR, $4

// QXTERMS computes, for 8 elements at off, l = clamp(nearest_int(iscale·x))
// as ggml's nearest_int does (float32 product, + 12582912, low 23 bits −
// 2^22), then p1 = wx·l into P1 and p2 = (w·l)·l into P2: every product a
// float32 rounding, as in the Go loop. Y7 iscale, Y8 magic, Y9 mantissa
// mask, Y10 bias, Y11 −nmax, Y12 nmax−1.
#define QXTERMS(off, P1, P2) \
	VMULPS off(SI), Y7, Y0; \
	VADDPS Y8, Y0, Y0; \
	VPAND Y9, Y0, Y0; \
	VPSUBD Y10, Y0, Y0; \
	VPMAXSD Y11, Y0, Y0; \
	VPMINSD Y12, Y0, Y0; \
	VCVTDQ2PS Y0, Y0; \
	VMULPS off(DX), Y0, P1; \
	VMULPS off(BX), Y0, P2; \
	VMULPS Y0, P2, P2

// ADD4 adds the four low lanes of X (in lane order) to the running sum S,
// one float32 addition at a time; it uses X15.
#define ADD4(X, S) \
	VADDSS X, S, S; \
	VPERMILPS $1, X, X15; \
	VADDSS X15, S, S; \
	VPERMILPS $2, X, X15; \
	VADDSS X15, S, S; \
	VPERMILPS $3, X, X15; \
	VADDSS X15, S, S

// func qxSums(x, w, wx *float32, iscale *float32, n int, nmax int32, out *float32)
// The sums of n passes of make_qx_quants over one 16-element sub-block, at
// iscale[0 … n−1]: out[2k] = Σ wx_i·l_i and out[2k+1] = Σ (w_i·l_i)·l_i,
// each added left to right from zero exactly as the Go loop adds them (the
// products are computed eight at a time; the additions stay in order, and
// the passes, independent of each other, overlap in the processor).
TEXT ·qxSums(SB), NOSPLIT, $0-56
	MOVQ x+0(FP), SI
	MOVQ w+8(FP), BX
	MOVQ wx+16(FP), DX
	MOVQ iscale+24(FP), R8
	MOVQ n+32(FP), R9
	MOVQ out+48(FP), DI
	VBROADCASTSS qxmagic<>(SB), Y8
	VPBROADCASTD qxmant<>(SB), Y9
	VPBROADCASTD qxbias<>(SB), Y10
	MOVL nmax+40(FP), AX
	MOVL AX, CX
	NEGL CX
	VMOVD CX, X11
	VPBROADCASTD X11, Y11
	DECL AX
	VMOVD AX, X12
	VPBROADCASTD X12, Y12
	TESTQ R9, R9
	JLE done
pass:
	VBROADCASTSS (R8), Y7
	QXTERMS(0, Y1, Y2)
	QXTERMS(32, Y3, Y4)
	VXORPS X13, X13, X13
	VXORPS X14, X14, X14
	VEXTRACTF128 $1, Y1, X5
	VEXTRACTF128 $1, Y2, X6
	ADD4(X1, X13)
	ADD4(X2, X14)
	ADD4(X5, X13)
	ADD4(X6, X14)
	VEXTRACTF128 $1, Y3, X5
	VEXTRACTF128 $1, Y4, X6
	ADD4(X3, X13)
	ADD4(X4, X14)
	ADD4(X5, X13)
	ADD4(X6, X14)
	VMOVSS X13, (DI)
	VMOVSS X14, 4(DI)
	ADDQ $4, R8
	ADDQ $8, DI
	DECQ R9
	JNZ pass
done:
	VZEROUPPER
	RET
