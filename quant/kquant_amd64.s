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

// Field offsets of qkx2Lanes (TestQkx2LanesLayout checks them).
#define QX 0
#define QW 1024
#define QMN 2048
#define QMX 2080
#define QSUMW 2112
#define QSUMX 2144
#define QSCALE 2176
#define QBEST 2208
#define QNUM 2240
#define QLAUX 2368
#define QL 3392

DATA qkxabs<>+0(SB)/4, $0x7fffffff
GLOBL qkxabs<>(SB), RODATA|NOPTR, $4

// func qkx2Passes(q *qkx2Lanes, n, nmax, nstep int, mad bool)
// The passes is = 0 … nstep of make_qkx2_quants on the eight lanes of q
// at once (see qkx2Lanes.passesGo: per lane the same float32 operations in
// the same order; a lane blends where ggml branches).
// Registers: Y1–Y3 sums, Y6 mn, Y7 iscale, Y8 magic, Y9 mantissa mask,
// Y10 bias, Y11 |·| mask, Y12 0, Y13 nmax, Y14 D, Y15 scratch.
TEXT ·qkx2Passes(SB), NOSPLIT, $0-33
	MOVQ q+0(FP), DI
	MOVQ n+8(FP), R10
	MOVQ nmax+16(FP), AX
	MOVQ nstep+24(FP), R11
	INCQ R11
	MOVBLZX mad+32(FP), R12
	VBROADCASTSS qxmagic<>(SB), Y8
	VPBROADCASTD qxmant<>(SB), Y9
	VPBROADCASTD qxbias<>(SB), Y10
	VPBROADCASTD qkxabs<>(SB), Y11
	VPXOR Y12, Y12, Y12
	VMOVD AX, X13
	VPBROADCASTD X13, Y13
	XORQ R9, R9
pass:
	VBROADCASTSS QNUM(DI)(R9*4), Y0
	VMOVUPS QMX(DI), Y4
	VMOVUPS QMN(DI), Y6
	VSUBPS Y6, Y4, Y4
	VDIVPS Y4, Y0, Y7
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	XORQ CX, CX
	MOVQ R10, BX
sums:
	VMOVUPS QX(DI)(CX*1), Y4
	VSUBPS Y6, Y4, Y5
	VMULPS Y5, Y7, Y5
	VADDPS Y8, Y5, Y5
	VPAND Y9, Y5, Y5
	VPSUBD Y10, Y5, Y5
	VPMINSD Y13, Y5, Y5
	VPMAXSD Y12, Y5, Y5
	VMOVDQU Y5, QLAUX(DI)(CX*1)
	VCVTDQ2PS Y5, Y5
	VMULPS QW(DI)(CX*1), Y5, Y0
	VADDPS Y0, Y1, Y1
	VMULPS Y5, Y0, Y15
	VADDPS Y15, Y2, Y2
	VMULPS Y4, Y0, Y15
	VADDPS Y15, Y3, Y3
	ADDQ $32, CX
	DECQ BX
	JNZ sums
	// D = sumW·sumL2 − sumL·sumL
	VMOVUPS QSUMW(DI), Y4
	VMULPS Y2, Y4, Y0
	VMULPS Y1, Y1, Y15
	VSUBPS Y15, Y0, Y14
	// scale = (sumW·sumXL − sumX·sumL) / D
	VMULPS Y3, Y4, Y0
	VMOVUPS QSUMX(DI), Y5
	VMULPS Y1, Y5, Y15
	VSUBPS Y15, Y0, Y0
	VDIVPS Y14, Y0, Y0
	// min = (sumL2·sumX − sumL·sumXL) / D
	VMULPS Y5, Y2, Y4
	VMULPS Y3, Y1, Y15
	VSUBPS Y15, Y4, Y4
	VDIVPS Y14, Y4, Y4
	// min > 0: min = 0, scale = sumXL / sumL2
	VXORPS Y15, Y15, Y15
	VCMPPS $0x1e, Y15, Y4, Y5
	VBLENDVPS Y5, Y15, Y4, Y4
	VDIVPS Y2, Y3, Y15
	VBLENDVPS Y5, Y15, Y0, Y0
	// the error of (scale, min) with the pass's codes
	VXORPS Y1, Y1, Y1
	XORQ CX, CX
	MOVQ R10, BX
errs:
	VMOVDQU QLAUX(DI)(CX*1), Y5
	VCVTDQ2PS Y5, Y5
	VMULPS Y5, Y0, Y5
	VADDPS Y4, Y5, Y5
	VSUBPS QX(DI)(CX*1), Y5, Y5
	TESTQ R12, R12
	JZ square
	VANDPS Y11, Y5, Y5
	JMP weigh
square:
	VMULPS Y5, Y5, Y5
weigh:
	VMULPS QW(DI)(CX*1), Y5, Y5
	VADDPS Y5, Y1, Y1
	ADDQ $32, CX
	DECQ BX
	JNZ errs
	// a lane takes the pass where D > 0 and err < bestErr
	VXORPS Y15, Y15, Y15
	VCMPPS $0x1e, Y15, Y14, Y14
	VMOVUPS QBEST(DI), Y15
	VCMPPS $0x11, Y15, Y1, Y5
	VANDPS Y14, Y5, Y5
	VBLENDVPS Y5, Y1, Y15, Y15
	VMOVUPS Y15, QBEST(DI)
	VMOVUPS QSCALE(DI), Y15
	VBLENDVPS Y5, Y0, Y15, Y15
	VMOVUPS Y15, QSCALE(DI)
	VBLENDVPS Y5, Y4, Y6, Y6
	VMOVUPS Y6, QMN(DI)
	XORQ CX, CX
	MOVQ R10, BX
codes:
	VMOVDQU QL(DI)(CX*1), Y15
	VBLENDVPS Y5, QLAUX(DI)(CX*1), Y15, Y15
	VMOVDQU Y15, QL(DI)(CX*1)
	ADDQ $32, CX
	DECQ BX
	JNZ codes
	INCQ R9
	CMPQ R9, R11
	JLT pass
	VZEROUPPER
	RET
