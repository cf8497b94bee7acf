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

// LANECONSTS sets the constants of nearest_int and of the code range
// [−nmax, nmax−1] for the lane searches, from nmax in AX: Y8 1.5·2^23,
// Y9 the mantissa mask, Y10 the bias 2^22, Y11 −nmax, Y12 nmax−1, Y13 0.
// Clobbers AX and CX.
#define LANECONSTS \
	VBROADCASTSS qxmagic<>(SB), Y8; \
	VPBROADCASTD qxmant<>(SB), Y9; \
	VPBROADCASTD qxbias<>(SB), Y10; \
	MOVL AX, CX; \
	NEGL CX; \
	VMOVD CX, X11; \
	VPBROADCASTD X11, Y11; \
	DECL AX; \
	VMOVD AX, X12; \
	VPBROADCASTD X12, Y12; \
	VXORPS Y13, Y13, Y13

// MAGNITUDE finds, per lane of the 16 rows of eight floats at off(DI), the
// largest |x| (into AMAX) and the first x attaining it, by strict
// comparison as ggml's loop (into VMAX). Uses Y0–Y2, Y15, BX and CX; a
// function uses it once (it holds a label).
#define MAGNITUDE(off, AMAX, VMAX) \
	VPBROADCASTD qkxabs<>(SB), Y15; \
	VXORPS AMAX, AMAX, AMAX; \
	VXORPS VMAX, VMAX, VMAX; \
	XORQ CX, CX; \
	MOVQ $16, BX; \
magnitude: \
	VMOVUPS off(DI)(CX*1), Y0; \
	VANDPS Y15, Y0, Y1; \
	VCMPPS $0x1e, AMAX, Y1, Y2; \
	VBLENDVPS Y2, Y1, AMAX, AMAX; \
	VBLENDVPS Y2, Y0, VMAX, VMAX; \
	ADDQ $32, CX; \
	DECQ BX; \
	JNZ magnitude

// Field offsets of q3Lanes (TestQkx2LanesLayout checks them).
#define Q3X 0
#define Q3W 512
#define Q3WX 1024
#define Q3L 1536
#define Q3SLX 2048
#define Q3SL2 2080
#define Q3AMAX 2112

DATA q3eps<>+0(SB)/4, $1e-15
GLOBL q3eps<>(SB), RODATA|NOPTR, $4

// func q3Search(q *q3Lanes, nmax int)
// make_q3_quants on the eight lanes of q at once, up to the final codes
// (see q3Lanes.searchGo: per lane the same float32 operations in the same
// order; a lane blends where ggml branches): the value of largest
// magnitude (the first, by strict comparison), the first codes, w, wx and
// sums (a lane of magnitude below GROUP_MAX_EPS left at zero), then the
// do_rmse loop: at most 5 passes over the 16 elements, stopping after a
// pass that changes no lane.
// Registers: Y6 sumlx, Y7 suml2, Y8 magic, Y9 mantissa mask, Y10 bias,
// Y11 −nmax, Y12 nmax−1, Y13 0, Y14 lanes changed in this pass (first:
// lanes in use).
TEXT ·q3Search(SB), NOSPLIT, $0-16
	MOVQ q+0(FP), DI
	MOVQ nmax+8(FP), AX
	LANECONSTS
	// amax (Y4) and the value attaining it first (Y5)
	MAGNITUDE(Q3X, Y4, Y5)
	VMOVUPS Y4, Q3AMAX(DI)
	VBROADCASTSS q3eps<>(SB), Y15
	VCMPPS $0x1d, Y15, Y4, Y14
	// iscale = −nmax / vmax; first codes, w, wx and sums
	VCVTDQ2PS Y11, Y4
	VDIVPS Y5, Y4, Y4
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	XORQ CX, CX
	MOVQ $16, BX
first:
	VMOVUPS Q3X(DI)(CX*1), Y0
	VMULPS Y0, Y4, Y1
	VADDPS Y8, Y1, Y1
	VPAND Y9, Y1, Y1
	VPSUBD Y10, Y1, Y1
	VPMAXSD Y11, Y1, Y1
	VPMINSD Y12, Y1, Y1
	VPAND Y14, Y1, Y1
	VMOVDQU Y1, Q3L(DI)(CX*1)
	VCVTDQ2PS Y1, Y1
	VMULPS Y0, Y0, Y2
	VANDPS Y14, Y2, Y2
	VMOVUPS Y2, Q3W(DI)(CX*1)
	VMULPS Y0, Y2, Y3
	VMOVUPS Y3, Q3WX(DI)(CX*1)
	VMULPS Y1, Y3, Y3
	VADDPS Y3, Y6, Y6
	VMULPS Y1, Y2, Y2
	VMULPS Y1, Y2, Y2
	VADDPS Y2, Y7, Y7
	ADDQ $32, CX
	DECQ BX
	JNZ first
	MOVQ $5, R11
try:
	VXORPS Y14, Y14, Y14
	XORQ CX, CX
	MOVQ $16, BX
elem:
	VMOVDQU Q3L(DI)(CX*1), Y0
	VCVTDQ2PS Y0, Y1
	// slx = sumlx − wx·li; taken only where slx > 0
	VMULPS Q3WX(DI)(CX*1), Y1, Y2
	VSUBPS Y2, Y6, Y2
	VCMPPS $0x1e, Y13, Y2, Y3
	// sl2 = suml2 − (w·li)·li
	VMULPS Q3W(DI)(CX*1), Y1, Y4
	VMULPS Y1, Y4, Y4
	VSUBPS Y4, Y7, Y4
	// newL = clamp(nearest_int((x·sl2) / slx)); taken only where it differs
	VMULPS Q3X(DI)(CX*1), Y4, Y5
	VDIVPS Y2, Y5, Y5
	VADDPS Y8, Y5, Y5
	VPAND Y9, Y5, Y5
	VPSUBD Y10, Y5, Y5
	VPMAXSD Y11, Y5, Y5
	VPMINSD Y12, Y5, Y5
	VPCMPEQD Y0, Y5, Y15
	VANDNPS Y3, Y15, Y3
	// slx += wx·fl, sl2 += (w·fl)·fl
	VCVTDQ2PS Y5, Y1
	VMULPS Q3WX(DI)(CX*1), Y1, Y15
	VADDPS Y15, Y2, Y2
	VMULPS Q3W(DI)(CX*1), Y1, Y15
	VMULPS Y1, Y15, Y15
	VADDPS Y15, Y4, Y4
	// taken where sl2 > 0 and (slx·slx)·suml2 > (sumlx·sumlx)·sl2
	VCMPPS $0x1e, Y13, Y4, Y15
	VANDPS Y15, Y3, Y3
	VMULPS Y2, Y2, Y15
	VMULPS Y7, Y15, Y15
	VMULPS Y6, Y6, Y1
	VMULPS Y4, Y1, Y1
	VCMPPS $0x1e, Y1, Y15, Y15
	VANDPS Y15, Y3, Y3
	VBLENDVPS Y3, Y5, Y0, Y0
	VMOVDQU Y0, Q3L(DI)(CX*1)
	VBLENDVPS Y3, Y2, Y6, Y6
	VBLENDVPS Y3, Y4, Y7, Y7
	VORPS Y3, Y14, Y14
	ADDQ $32, CX
	DECQ BX
	JNZ elem
	VMOVMSKPS Y14, AX
	TESTL AX, AX
	JZ done
	DECQ R11
	JNZ try
done:
	VMOVUPS Y6, Q3SLX(DI)
	VMOVUPS Y7, Q3SL2(DI)
	VZEROUPPER
	RET

// Field offsets of qxLanes (TestQkx2LanesLayout checks them).
#define QXX 0
#define QXW 512
#define QXWX 1024
#define QXL 1536
#define QXLAUX 2048
#define QXNUM 2560
#define QXSCALE 2688
#define QXAMAX 2720

// func qxSearch(q *qxLanes, nmax int)
// make_qx_quants (rmse_type 1, no importance weights) on the eight lanes of
// q at once (see qxLanes.searchGo: per lane the same float32 operations in
// the same order; a lane blends where ggml branches): the value of largest
// magnitude, then 19 passes, iscale = −num[p] / vmax.
// Registers: Y1 sumlx, Y2 suml2, Y3 iscale, Y4 vmax, Y6 scale, Y7 best,
// Y8 magic, Y9 mantissa mask, Y10 bias, Y11 −nmax, Y12 nmax−1, Y13 0.
TEXT ·qxSearch(SB), NOSPLIT, $0-16
	MOVQ q+0(FP), DI
	MOVQ nmax+8(FP), AX
	LANECONSTS
	MAGNITUDE(QXX, Y5, Y4)
	VMOVUPS Y5, QXAMAX(DI)
	XORQ R9, R9
qpass:
	VBROADCASTSS QXNUM(DI)(R9*4), Y3
	VSUBPS Y3, Y13, Y3
	VDIVPS Y4, Y3, Y3
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	XORQ CX, CX
	MOVQ $16, BX
qsum:
	VMULPS QXX(DI)(CX*1), Y3, Y5
	VADDPS Y8, Y5, Y5
	VPAND Y9, Y5, Y5
	VPSUBD Y10, Y5, Y5
	VPMAXSD Y11, Y5, Y5
	VPMINSD Y12, Y5, Y5
	VMOVDQU Y5, QXLAUX(DI)(CX*1)
	VCVTDQ2PS Y5, Y5
	VMULPS QXWX(DI)(CX*1), Y5, Y0
	VADDPS Y0, Y1, Y1
	VMULPS QXW(DI)(CX*1), Y5, Y0
	VMULPS Y5, Y0, Y0
	VADDPS Y0, Y2, Y2
	ADDQ $32, CX
	DECQ BX
	JNZ qsum
	TESTQ R9, R9
	JNZ qlater
	// the first pass: scale = suml2 ≠ 0 ? sumlx / suml2 : 0; its codes
	VCMPPS $0x04, Y13, Y2, Y14
	VDIVPS Y2, Y1, Y6
	VANDPS Y14, Y6, Y6
	VMULPS Y1, Y6, Y7
	VPCMPEQD Y14, Y14, Y14
	JMP qtake
qlater:
	// taken where suml2 > 0 and sumlx·sumlx > best·suml2
	VCMPPS $0x1e, Y13, Y2, Y14
	VMULPS Y1, Y1, Y0
	VMULPS Y2, Y7, Y15
	VCMPPS $0x1e, Y15, Y0, Y0
	VANDPS Y0, Y14, Y14
	VDIVPS Y2, Y1, Y0
	VBLENDVPS Y14, Y0, Y6, Y6
	VMULPS Y1, Y6, Y0
	VBLENDVPS Y14, Y0, Y7, Y7
qtake:
	XORQ CX, CX
	MOVQ $16, BX
qcodes:
	VMOVDQU QXL(DI)(CX*1), Y0
	VBLENDVPS Y14, QXLAUX(DI)(CX*1), Y0, Y0
	VMOVDQU Y0, QXL(DI)(CX*1)
	ADDQ $32, CX
	DECQ BX
	JNZ qcodes
	INCQ R9
	CMPQ R9, $19
	JLT qpass
	VMOVUPS Y6, QXSCALE(DI)
	VZEROUPPER
	RET

DATA q3m4<>+0(SB)/4, $-4
GLOBL q3m4<>(SB), RODATA|NOPTR, $4
DATA q3p3<>+0(SB)/4, $3
GLOBL q3p3<>(SB), RODATA|NOPTR, $4
DATA q3p4<>+0(SB)/4, $4
GLOBL q3p4<>(SB), RODATA|NOPTR, $4
DATA q3one<>+0(SB)/1, $1
GLOBL q3one<>(SB), RODATA|NOPTR, $1
DATA q3three<>+0(SB)/1, $3
GLOBL q3three<>(SB), RODATA|NOPTR, $1

// Q3CODES8(R) turns the eight x/dq in R into codes clamp(nearest_int, −4,
// 3) + 4 (int32): nearest_int as ggml writes it, (bits(v + 1.5·2^23) &
// 0x7fffff) − 0x400000. Y9: 1.5·2^23, Y10: 0x7fffff, Y11: 0x400000, Y12: −4,
// Y13: 3, Y14: 4.
#define Q3CODES8(R) \
	VADDPS Y9, R, R; \
	VPAND Y10, R, R; \
	VPSUBD Y11, R, R; \
	VPMAXSD Y12, R, R; \
	VPMINSD Y13, R, R; \
	VPADDD Y14, R, R

// HMBIT(g) ORs bit 2 of the 32 codes L[32g…32g+31] into bit g of Y8's
// bytes. Y7: 0x01 bytes.
#define HMBIT(g) \
	VMOVDQU (32*g)(DI), Y1; \
	VPSRLW $2, Y1, Y1; \
	VPAND Y7, Y1, Y1; \
	VPSLLW $g, Y1, Y1; \
	VPOR Y1, Y8, Y8

// QSHALF(h) packs the low two bits of L[128h…128h+127] into qs[32h…]:
// byte l = L[l] | L[l+32]<<2 | L[l+64]<<4 | L[l+96]<<6. Y6: 0x03 bytes.
#define QSHALF(h) \
	VPAND (128*h)(DI), Y6, Y1; \
	VPAND (128*h+32)(DI), Y6, Y2; \
	VPAND (128*h+64)(DI), Y6, Y3; \
	VPAND (128*h+96)(DI), Y6, Y4; \
	VPSLLW $2, Y2, Y2; \
	VPSLLW $4, Y3, Y3; \
	VPSLLW $6, Y4, Y4; \
	VPOR Y2, Y1, Y1; \
	VPOR Y4, Y3, Y3; \
	VPOR Y3, Y1, Y1; \
	VMOVDQU Y1, (32+32*h)(SI)

// func q3Finish(x *float32, dq *float32, l *int8, out *byte)
// q3FinishGo in AVX2: sub-block j's sixteen codes from x/dq[j] (IEEE
// division, then ggml's nearest_int) unless dq[j] is zero, then the high
// bits into hmask (out[0:32]) and the low two bits into qs (out[32:96]).
TEXT ·q3Finish(SB), NOSPLIT, $0-32
	MOVQ x+0(FP), AX
	MOVQ dq+8(FP), BX
	MOVQ l+16(FP), DI
	MOVQ out+24(FP), SI
	VBROADCASTSS qxmagic<>(SB), Y9
	VPBROADCASTD qxmant<>(SB), Y10
	VPBROADCASTD qxbias<>(SB), Y11
	VPBROADCASTD q3m4<>(SB), Y12
	VPBROADCASTD q3p3<>(SB), Y13
	VPBROADCASTD q3p4<>(SB), Y14
	VXORPS X15, X15, X15
	XORQ CX, CX
q3fsub:
	VMOVSS (BX)(CX*4), X0
	// dq == 0 keeps the search's codes; a NaN dq (unordered) computes.
	VUCOMISS X15, X0
	JNE q3fcodes
	JPS q3fcodes
	JMP q3fnext
q3fcodes:
	VBROADCASTSS X0, Y0
	MOVQ CX, DX
	SHLQ $6, DX
	VMOVUPS (AX)(DX*1), Y1
	VMOVUPS 32(AX)(DX*1), Y2
	VDIVPS Y0, Y1, Y1
	VDIVPS Y0, Y2, Y2
	Q3CODES8(Y1)
	Q3CODES8(Y2)
	VPACKSSDW Y2, Y1, Y1
	VPERMQ $0xD8, Y1, Y1
	VEXTRACTI128 $1, Y1, X2
	VPACKSSWB X2, X1, X1
	MOVQ CX, DX
	SHLQ $4, DX
	VMOVDQU X1, (DI)(DX*1)
q3fnext:
	INCQ CX
	CMPQ CX, $16
	JLT q3fsub
	VPBROADCASTB q3one<>(SB), Y7
	VPXOR Y8, Y8, Y8
	HMBIT(0)
	HMBIT(1)
	HMBIT(2)
	HMBIT(3)
	HMBIT(4)
	HMBIT(5)
	HMBIT(6)
	HMBIT(7)
	VMOVDQU Y8, (SI)
	VPBROADCASTB q3three<>(SB), Y6
	QSHALF(0)
	QSHALF(1)
	VZEROUPPER
	RET
