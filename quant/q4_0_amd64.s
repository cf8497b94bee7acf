//go:build amd64 && !noasm

#include "textflag.h"

// PACKNIBBLES(DST) stores the 16 bytes code j | code j+16 << 4 of one
// block at DST, from codes 0–7 in Y0, 8–15 in Y1, 16–23 in Y2 and 24–31 in
// Y3 (as dwords, each below 16); it uses Y4 and Y5.
#define PACKNIBBLES(DST) \
	VPSLLD $4, Y2, Y2; \
	VPSLLD $4, Y3, Y3; \
	VPOR Y2, Y0, Y0; \
	VPOR Y3, Y1, Y1; \
	VPACKUSDW Y1, Y0, Y4; \
	VPERMQ $0xD8, Y4, Y4; \
	VEXTRACTI128 $1, Y4, X5; \
	VPACKUSWB X5, X4, X4; \
	VMOVDQU X4, DST

DATA q4c85<>+0(SB)/4, $8.5
GLOBL q4c85<>(SB), RODATA|NOPTR, $4
DATA q4c15<>+0(SB)/4, $15
GLOBL q4c15<>(SB), RODATA|NOPTR, $4

// Q4CODES leaves in Y0…Y3 the 32 Q4_0 codes of the block at (SI), as
// dwords: per element float32 x·id (id in Y7), + 8.5 (Y8), truncation, min
// with 15 (Y9), as the Go loop; then each code's low four bits, as
// byte(q) | byte(q')<<4 keeps them (a NaN element's 0x80000000 must not
// reach the saturating packs, where it would clear its neighbour's nibble).
#define Q4CODES \
	VMULPS (SI), Y7, Y0; \
	VMULPS 32(SI), Y7, Y1; \
	VMULPS 64(SI), Y7, Y2; \
	VMULPS 96(SI), Y7, Y3; \
	VADDPS Y8, Y0, Y0; \
	VADDPS Y8, Y1, Y1; \
	VADDPS Y8, Y2, Y2; \
	VADDPS Y8, Y3, Y3; \
	VCVTTPS2DQ Y0, Y0; \
	VCVTTPS2DQ Y1, Y1; \
	VCVTTPS2DQ Y2, Y2; \
	VCVTTPS2DQ Y3, Y3; \
	VPMINSD Y9, Y0, Y0; \
	VPMINSD Y9, Y1, Y1; \
	VPMINSD Y9, Y2, Y2; \
	VPMINSD Y9, Y3, Y3; \
	VPAND Y9, Y0, Y0; \
	VPAND Y9, Y1, Y1; \
	VPAND Y9, Y2, Y2; \
	VPAND Y9, Y3, Y3

// func q4_0Codes(x *float32, id float32, out *byte)
// The 32 codes of one Q4_0 block, packed as ggml does (byte j = code j |
// code j+16 << 4). Per element the same IEEE operations as the Go loop:
// float32 x·id, + 8.5, truncation to an integer, min with 15.
TEXT ·q4_0Codes(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ out+16(FP), DI
	VBROADCASTSS id+8(FP), Y7
	VBROADCASTSS q4c85<>(SB), Y8
	VPBROADCASTD q4c15<>(SB), Y9
	Q4CODES
	PACKNIBBLES((DI))
	VZEROUPPER
	RET

// FIRSTEQ leaves in AX the first j whose element (of Y0…Y3) equals the
// float32 in X4 (some element must). Uses Y4, Y5 and BX.
#define FIRSTEQ \
	VBROADCASTSS X4, Y4; \
	VCMPPS $0, Y4, Y0, Y5; \
	VMOVMSKPS Y5, AX; \
	VCMPPS $0, Y4, Y1, Y5; \
	VMOVMSKPS Y5, BX; \
	SHLL $8, BX; \
	ORL BX, AX; \
	VCMPPS $0, Y4, Y2, Y5; \
	VMOVMSKPS Y5, BX; \
	SHLL $16, BX; \
	ORL BX, AX; \
	VCMPPS $0, Y4, Y3, Y5; \
	VMOVMSKPS Y5, BX; \
	SHLL $24, BX; \
	ORL BX, AX; \
	BSFL AX, AX

// ABSNAN(bail) loads the magnitudes of the block at (SI) into Y0…Y3 and
// jumps to bail when an element is NaN. Y15: 0x7fffffff. Uses Y4, Y5, AX.
#define ABSNAN(bail) \
	VANDPS (SI), Y15, Y0; \
	VANDPS 32(SI), Y15, Y1; \
	VANDPS 64(SI), Y15, Y2; \
	VANDPS 96(SI), Y15, Y3; \
	VCMPPS $3, Y0, Y0, Y4; \
	VCMPPS $3, Y1, Y1, Y5; \
	VORPS Y5, Y4, Y4; \
	VCMPPS $3, Y2, Y2, Y5; \
	VORPS Y5, Y4, Y4; \
	VCMPPS $3, Y3, Y3, Y5; \
	VORPS Y5, Y4, Y4; \
	VMOVMSKPS Y4, AX; \
	TESTL AX, AX; \
	JNE bail

// AMAX leaves the largest of Y0…Y3 (no NaN among them) in X4. Uses Y5.
#define AMAX \
	VMAXPS Y1, Y0, Y4; \
	VMAXPS Y3, Y2, Y5; \
	VMAXPS Y5, Y4, Y4; \
	VEXTRACTF128 $1, Y4, X5; \
	VMAXPS X5, X4, X4; \
	VPERMILPS $0x4E, X4, X5; \
	VMAXPS X5, X4, X4; \
	VPERMILPS $0xB1, X4, X5; \
	VMAXPS X5, X4, X4

// func absMax32(x *float32) (amax float32, idx int)
// The largest |x_j| of a 32-element block and the first j attaining it; a
// block without a nonzero magnitude gives amax 0 (idx then means nothing).
// A block holding a NaN gives idx −1 (and amax 0): the callers search it in
// Go, each in its own order.
TEXT ·absMax32(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	VPCMPEQD Y15, Y15, Y15
	VPSRLD $1, Y15, Y15
	ABSNAN(amnan)
	AMAX
	VMOVSS X4, amax+8(FP)
	FIRSTEQ
	MOVQ AX, idx+16(FP)
	VZEROUPPER
	RET
amnan:
	MOVL $0, amax+8(FP)
	MOVQ $-1, idx+16(FP)
	VZEROUPPER
	RET

DATA q8half<>+0(SB)/4, $0.5
GLOBL q8half<>(SB), RODATA|NOPTR, $4
DATA q8one<>+0(SB)/4, $1.0
GLOBL q8one<>(SB), RODATA|NOPTR, $4

// Q8PACK packs the int32 codes in Y0…Y3 into 32 bytes in Y0, in order.
// Each code is the low byte of its int32, as C's conversion keeps it (an
// infinite x·id, from 1/d overflowing for a block of subnormals, gives
// 0x80000000, code 0); saturating packs would make it −128. Uses Y1, Y12.
#define Q8PACK \
	VPCMPEQD Y12, Y12, Y12; \
	VPSRLD $24, Y12, Y12; \
	VPAND Y12, Y0, Y0; \
	VPAND Y12, Y1, Y1; \
	VPAND Y12, Y2, Y2; \
	VPAND Y12, Y3, Y3; \
	VPACKUSDW Y1, Y0, Y0; \
	VPACKUSDW Y3, Y2, Y2; \
	VPACKUSWB Y2, Y0, Y0; \
	VMOVDQU q8perm<>(SB), Y1; \
	VPERMD Y0, Y1, Y0

// func q8_0Codes(x *float32, id float32, out *byte)
// The 32 int8 codes of one Q8_0 block: roundf(x·id), i.e. round half away
// from zero, computed exactly as t = trunc(v); t ± 1 when |v − t| ≥ 0.5
// (v − t is exact for |v| < 2^23).
TEXT ·q8_0Codes(SB), NOSPLIT, $0-24
	MOVQ x+0(FP), SI
	MOVQ out+16(FP), DI
	VBROADCASTSS id+8(FP), Y7
	VBROADCASTSS q8half<>(SB), Y8
	VBROADCASTSS q8one<>(SB), Y9
	VPCMPEQD Y10, Y10, Y10
	VPSRLD $1, Y10, Y10        // 0x7fffffff
	VPCMPEQD Y11, Y11, Y11
	VPXOR Y10, Y11, Y11        // 0x80000000
#define Q8ROUND(off, R) \
	VMULPS off(SI), Y7, R; \
	VROUNDPS $3, R, Y12; \
	VSUBPS Y12, R, Y13; \
	VANDPS Y10, Y13, Y13; \
	VCMPPS $13, Y8, Y13, Y13; \
	VANDPS Y11, R, Y14; \
	VORPS Y9, Y14, Y14; \
	VANDPS Y13, Y14, Y14; \
	VADDPS Y14, Y12, R; \
	VCVTTPS2DQ R, R
	Q8ROUND(0, Y0)
	Q8ROUND(32, Y1)
	Q8ROUND(64, Y2)
	Q8ROUND(96, Y3)
	Q8PACK
	VMOVDQU Y0, (DI)
	VZEROUPPER
	RET

DATA q8perm<>+0(SB)/4, $0
DATA q8perm<>+4(SB)/4, $4
DATA q8perm<>+8(SB)/4, $1
DATA q8perm<>+12(SB)/4, $5
DATA q8perm<>+16(SB)/4, $2
DATA q8perm<>+20(SB)/4, $6
DATA q8perm<>+24(SB)/4, $3
DATA q8perm<>+28(SB)/4, $7
GLOBL q8perm<>(SB), RODATA|NOPTR, $32

DATA qfltmax<>+0(SB)/4, $0x7f7fffff
GLOBL qfltmax<>(SB), RODATA|NOPTR, $4
DATA qfltmin<>+0(SB)/4, $0xff7fffff
GLOBL qfltmin<>(SB), RODATA|NOPTR, $4

// MINMAXACC leaves in Y4 the lane minima and in Y6 the lane maxima of
// Y0…Y3, each folded into ±FLT_MAX as ggml's loop starts: the data is the
// first operand, so a NaN element yields the accumulator (VMINPS/VMAXPS
// return the second operand when either is NaN) and is skipped, as ggml's
// comparisons skip it. Uses nothing else.
#define MINMAXACC \
	VBROADCASTSS qfltmax<>(SB), Y4; \
	VBROADCASTSS qfltmin<>(SB), Y6; \
	VMINPS Y4, Y0, Y4; \
	VMINPS Y4, Y1, Y4; \
	VMINPS Y4, Y2, Y4; \
	VMINPS Y4, Y3, Y4; \
	VMAXPS Y6, Y0, Y6; \
	VMAXPS Y6, Y1, Y6; \
	VMAXPS Y6, Y2, Y6; \
	VMAXPS Y6, Y3, Y6

// MINMAX leaves the smallest element of Y0…Y3 in X4 and the largest in X6
// (NaNs skipped, MINMAXACC). Uses Y5 and Y7.
#define MINMAX \
	MINMAXACC; \
	VEXTRACTF128 $1, Y4, X5; \
	VMINPS X5, X4, X4; \
	VPERMILPS $0x4E, X4, X5; \
	VMINPS X5, X4, X4; \
	VPERMILPS $0xB1, X4, X5; \
	VMINPS X5, X4, X4; \
	VEXTRACTF128 $1, Y6, X7; \
	VMAXPS X7, X6, X6; \
	VPERMILPS $0x4E, X6, X7; \
	VMAXPS X7, X6, X6; \
	VPERMILPS $0xB1, X6, X7; \
	VMAXPS X7, X6, X6

// func minMax32(x *float32) (mn, mx float32)
// The smallest and largest element of a 32-element block, NaN elements
// skipped (MINMAX). The sign of a zero result depends on the order of
// comparisons; the caller redoes a block in ggml's order when either result
// is zero.
TEXT ·minMax32(SB), NOSPLIT, $0-16
	MOVQ x+0(FP), SI
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	MINMAX
	VMOVSS X4, mn+8(FP)
	VMOVSS X6, mx+12(FP)
	VZEROUPPER
	RET

// QHBITS leaves in AX bit 4 of the 32 codes in Y0…Y3 (dwords), code j's
// as bit j. Uses DX and the vector register T.
#define QHBITS(T) \
	VPSLLD $27, Y0, T; \
	VMOVMSKPS T, AX; \
	VPSLLD $27, Y1, T; \
	VMOVMSKPS T, DX; \
	SHLL $8, DX; \
	ORL DX, AX; \
	VPSLLD $27, Y2, T; \
	VMOVMSKPS T, DX; \
	SHLL $16, DX; \
	ORL DX, AX; \
	VPSLLD $27, Y3, T; \
	VMOVMSKPS T, DX; \
	SHLL $24, DX; \
	ORL DX, AX

// func affineCodes(x *float32, mn, id, add float32, clamp int32, out *byte) (qh uint32)
// The codes q_j = min(clamp, trunc((x_j − mn)·id + add)) of one Q4_1/Q5_1
// block (add 0.5), or of a Q5_0 block (mn 0, add 16.5, clamp 31), each
// operation an IEEE float32 one as in the Go loops: their low
// nibbles packed as ggml does (byte j = q_j & 15 | (q_j+16 & 15) << 4) and
// bit 4 of q_j returned as bit j of qh.
TEXT ·affineCodes(SB), NOSPLIT, $0-36
	MOVQ x+0(FP), SI
	MOVQ out+24(FP), DI
	VBROADCASTSS mn+8(FP), Y6
	VBROADCASTSS id+12(FP), Y7
	VBROADCASTSS add+16(FP), Y8
	MOVL clamp+20(FP), AX
	VMOVD AX, X9
	VPBROADCASTD X9, Y9
	VPBROADCASTD q4c15<>(SB), Y10
#define AFFINE(off, R) \
	VMOVUPS off(SI), R; \
	VSUBPS Y6, R, R; \
	VMULPS Y7, R, R; \
	VADDPS Y8, R, R; \
	VCVTTPS2DQ R, R; \
	VPMINSD Y9, R, R
	AFFINE(0, Y0)
	AFFINE(32, Y1)
	AFFINE(64, Y2)
	AFFINE(96, Y3)
	QHBITS(Y11)
	MOVL AX, qh+32(FP)
	VPAND Y10, Y0, Y0
	VPAND Y10, Y1, Y1
	VPAND Y10, Y2, Y2
	VPAND Y10, Y3, Y3
	PACKNIBBLES((DI))
	VZEROUPPER
	RET

// FP16CONSTS loads FP16's constants (X14: 2^112, X11: 2^-110).
#define FP16CONSTS \
	MOVL $0x77800000, AX; \
	VMOVD AX, X14; \
	MOVL $0x08800000, AX; \
	VMOVD AX, X11

// FP16 leaves in R9 the f16 bits of the float32 in XR as ggml's
// ggml_compute_fp32_to_fp16 computes them (fp16 in types.go, operation for
// operation: |f|·2^112·2^-110 rounded twice, the bias max(shl1 & 0xff000000,
// 0x71000000) unsigned, NaN to 0x7e00 with its sign). Uses AX, BX, DX, R10,
// X12, X13; X14 holds 2^112 and X11 2^-110.
#define FP16(XR) \
	VMOVD XR, AX; \
	MOVL AX, BX; \
	ANDL $0x7fffffff, BX; \
	VMOVD BX, X12; \
	VMULSS X14, X12, X12; \
	VMULSS X11, X12, X12; \
	LEAL (AX)(AX*1), BX; \
	MOVL AX, DX; \
	ANDL $0x80000000, DX; \
	MOVL BX, R9; \
	ANDL $0xff000000, R9; \
	MOVL $0x71000000, R10; \
	CMPL R9, R10; \
	CMOVLCS R10, R9; \
	SHRL $1, R9; \
	ADDL $0x07800000, R9; \
	VMOVD R9, X13; \
	VADDSS X12, X13, X13; \
	VMOVD X13, R9; \
	MOVL R9, R10; \
	SHRL $13, R10; \
	ANDL $0x7c00, R10; \
	ANDL $0x0fff, R9; \
	ADDL R10, R9; \
	MOVL $0x7e00, R10; \
	CMPL BX, $0xff000000; \
	CMOVLHI R10, R9; \
	SHRL $16, DX; \
	ORL DX, R9

// func affineBlocks(x *float32, out *byte, nb int, levels float32, clamp int32, bs int) (done int)
// Q4_1 (bs 20, clamp 15, levels 15) or Q5_1 (bs 24, no clamp, levels 31)
// blocks, whole: per block the minimum and maximum (as minMax32), d = (max
// − min)/levels, id = 1/d (0 when d is 0), both scales as f16 (FP16), the
// codes as affineCodes with add 0.5, Q5_1's fifth bits at 4(out). The same
// float32 operations, in the same order, as quantizeQ4_1 and quantizeQ5_1.
// It stops before a block whose minimum or maximum is a zero (whose sign
// depends on the order of comparisons) or NaN, and returns the number of
// blocks done; the caller does that block in Go.
TEXT ·affineBlocks(SB), NOSPLIT, $0-48
	MOVQ x+0(FP), SI
	MOVQ out+8(FP), DI
	MOVQ nb+16(FP), CX
	MOVQ bs+32(FP), R8
	XORQ R13, R13
	VBROADCASTSS q8half<>(SB), Y8
	MOVL clamp+28(FP), AX
	VMOVD AX, X9
	VPBROADCASTD X9, Y9
	VPBROADCASTD q4c15<>(SB), Y10
	FP16CONSTS
	VXORPS X15, X15, X15
	TESTQ CX, CX
	JEQ abdone
abloop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	MINMAX
	// A zero or NaN minimum or maximum: ZF is set (equal or unordered).
	VUCOMISS X15, X4
	JEQ abdone
	VUCOMISS X15, X6
	JEQ abdone
	VSUBSS X4, X6, X5
	VDIVSS levels+24(FP), X5, X5
	// id = 1/d unless d == 0 (a NaN d gives a NaN id, as in Go)
	VXORPS X7, X7, X7
	VUCOMISS X15, X5
	JNE abinv
	JPS abinv
	JMP abscales
abinv:
	MOVL $0x3f800000, AX
	VMOVD AX, X7
	VDIVSS X5, X7, X7
abscales:
	FP16(X5)
	MOVW R9, 0(DI)
	FP16(X4)
	MOVW R9, 2(DI)
	VBROADCASTSS X4, Y6
	VBROADCASTSS X7, Y7
	AFFINE(0, Y0)
	AFFINE(32, Y1)
	AFFINE(64, Y2)
	AFFINE(96, Y3)
	LEAQ 4(DI), BX
	CMPQ R8, $24
	JNE abnibbles
	QHBITS(Y12)
	MOVL AX, 4(DI)
	LEAQ 8(DI), BX
abnibbles:
	VPAND Y10, Y0, Y0
	VPAND Y10, Y1, Y1
	VPAND Y10, Y2, Y2
	VPAND Y10, Y3, Y3
	PACKNIBBLES((BX))
	ADDQ $128, SI
	ADDQ R8, DI
	INCQ R13
	CMPQ R13, CX
	JLT abloop
abdone:
	MOVQ R13, done+40(FP)
	VZEROUPPER
	RET

// BLOCKSARGS loads a block kernel's arguments (x *float32, out *byte, nb
// int): x in SI, out in DI, nb in CX; R13 counts the blocks done, Y15 holds
// 0x7fffffff (ABSNAN's mask).
#define BLOCKSARGS \
	MOVQ x+0(FP), SI; \
	MOVQ out+8(FP), DI; \
	MOVQ nb+16(FP), CX; \
	XORQ R13, R13; \
	VPCMPEQD Y15, Y15, Y15; \
	VPSRLD $1, Y15, Y15

// BLOCKSNEXT(BS, loop, end) steps to the next block of BS bytes and loops
// while blocks remain; the label end follows (the caller stores R13, the
// blocks done, and returns).
#define BLOCKSNEXT(BS, loop, end) \
	ADDQ $128, SI; \
	ADDQ $BS, DI; \
	INCQ R13; \
	CMPQ R13, CX; \
	JLT loop; \
end:

// SIGNEDMAX(done) leaves in X6 the first element of the block at (SI)
// whose magnitude is X4's, with its sign, or +0 when X4 is 0 (as
// signedAbsMax); it ends at the label done, which must follow it.
#define SIGNEDMAX(done) \
	VXORPS X6, X6, X6; \
	VUCOMISS X6, X4; \
	JEQ done; \
	FIRSTEQ; \
	VMOVSS (SI)(AX*4), X6; \
done:

// INVERSE(done) leaves in X7 1/X6, or +0 when X6 is zero (the Go loops'
// "if d != 0 { id = 1/d }"; X6 is never NaN here); it ends at the label
// done. Uses X5, AX.
#define INVERSE(done) \
	VXORPS X7, X7, X7; \
	VXORPS X5, X5, X5; \
	VUCOMISS X5, X6; \
	JEQ done; \
	MOVL $0x3f800000, AX; \
	VMOVD AX, X7; \
	VDIVSS X6, X7, X7; \
done:

DATA q4m8<>+0(SB)/4, $-8.0
GLOBL q4m8<>(SB), RODATA|NOPTR, $4

// func q4_0Blocks(x *float32, out *byte, nb int) (done int)
// Q4_0 blocks, whole: per block the element of largest magnitude (the first
// one; +0 for a block of zeros, as signedAbsMax), d = max/−8, id = 1/d (0
// when d is 0), d as f16 (FP16), the codes as q4_0Codes. The same float32
// operations, in the same order, as quantizeQ4_0. It stops before a block
// holding a NaN and returns the number of blocks done; the caller does that
// block in Go.
TEXT ·q4_0Blocks(SB), NOSPLIT, $0-32
	BLOCKSARGS
	VBROADCASTSS q4c85<>(SB), Y8
	VPBROADCASTD q4c15<>(SB), Y9
	FP16CONSTS
	TESTQ CX, CX
	JEQ q4bdone
q4bloop:
	ABSNAN(q4bdone)
	AMAX
	SIGNEDMAX(q4bscale)
	VDIVSS q4m8<>(SB), X6, X6
	INVERSE(q4bid)
	FP16(X6)
	MOVW R9, 0(DI)
	VBROADCASTSS X7, Y7
	Q4CODES
	PACKNIBBLES(2(DI))
	BLOCKSNEXT(18, q4bloop, q4bdone)
	MOVQ R13, done+24(FP)
	VZEROUPPER
	RET

DATA q5m16<>+0(SB)/4, $-16.0
GLOBL q5m16<>(SB), RODATA|NOPTR, $4
DATA q5c165<>+0(SB)/4, $16.5
GLOBL q5c165<>(SB), RODATA|NOPTR, $4
DATA q5c31<>+0(SB)/4, $31
GLOBL q5c31<>(SB), RODATA|NOPTR, $4
DATA q8c127<>+0(SB)/4, $127.0
GLOBL q8c127<>(SB), RODATA|NOPTR, $4

// func q5_0Blocks(x *float32, out *byte, nb int) (done int)
// Q5_0 blocks, whole, as q4_0Blocks: d = max/−16, then the codes as
// affineCodes with mn 0, add 16.5, clamp 31 (q5_0Pack), the fifth bits at
// 2(out), the low nibbles at 6(out). It stops before a block holding a NaN.
TEXT ·q5_0Blocks(SB), NOSPLIT, $0-32
	BLOCKSARGS
	VBROADCASTSS q5c165<>(SB), Y8
	VPBROADCASTD q5c31<>(SB), Y9
	VPBROADCASTD q4c15<>(SB), Y10
	FP16CONSTS
	TESTQ CX, CX
	JEQ q5bdone
q5bloop:
	ABSNAN(q5bdone)
	AMAX
	SIGNEDMAX(q5bscale)
	VDIVSS q5m16<>(SB), X6, X6
	INVERSE(q5bid)
	FP16(X6)
	MOVW R9, 0(DI)
	VXORPS Y6, Y6, Y6
	VBROADCASTSS X7, Y7
	AFFINE(0, Y0)
	AFFINE(32, Y1)
	AFFINE(64, Y2)
	AFFINE(96, Y3)
	QHBITS(Y12)
	MOVL AX, 2(DI)
	VPAND Y10, Y0, Y0
	VPAND Y10, Y1, Y1
	VPAND Y10, Y2, Y2
	VPAND Y10, Y3, Y3
	PACKNIBBLES(6(DI))
	BLOCKSNEXT(22, q5bloop, q5bdone)
	MOVQ R13, done+24(FP)
	VZEROUPPER
	RET

// func q8_0Blocks(x *float32, out *byte, nb int) (done int)
// Q8_0 blocks, whole: amax (the largest magnitude), d = amax/127, id = 1/d
// (0 when d is 0), d as f16, the codes as q8_0Codes. It stops before a
// block holding a NaN (ggml's in-order MAX makes its amax depend on where
// the NaN is; absMaxFold does that block).
TEXT ·q8_0Blocks(SB), NOSPLIT, $0-32
	BLOCKSARGS
	TESTQ CX, CX
	JEQ q8bdone
q8bloop:
	ABSNAN(q8bdone)
	AMAX
	VMOVAPS X4, X6
	VDIVSS q8c127<>(SB), X6, X6
	INVERSE(q8bid)
	FP16CONSTS
	FP16(X6)
	MOVW R9, 0(DI)
	// Q8ROUND's registers (Y7 id, Y8 0.5, Y9 1, Y10 0x7fffffff, Y11 sign)
	VBROADCASTSS X7, Y7
	VBROADCASTSS q8half<>(SB), Y8
	VBROADCASTSS q8one<>(SB), Y9
	VMOVDQA Y15, Y10
	VPCMPEQD Y11, Y11, Y11
	VPXOR Y10, Y11, Y11
	Q8ROUND(0, Y0)
	Q8ROUND(32, Y1)
	Q8ROUND(64, Y2)
	Q8ROUND(96, Y3)
	Q8PACK
	VMOVDQU Y0, 2(DI)
	BLOCKSNEXT(34, q8bloop, q8bdone)
	MOVQ R13, done+24(FP)
	VZEROUPPER
	RET
