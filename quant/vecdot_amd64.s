//go:build amd64 && !noasm

#include "textflag.h"

DATA vdones<>+0(SB)/2, $1
GLOBL vdones<>(SB), RODATA|NOPTR, $2

// REDUCE8 adds up each of Y0…Y7 (eight int32 lanes each) into lane k of
// Y0 for Yk; uses Y1, Y2, Y4, Y6.
#define REDUCE8 \
	VPHADDD Y1, Y0, Y0; \
	VPHADDD Y3, Y2, Y2; \
	VPHADDD Y5, Y4, Y4; \
	VPHADDD Y7, Y6, Y6; \
	VPHADDD Y2, Y0, Y0; \
	VPHADDD Y6, Y4, Y4; \
	VPERM2I128 $0x20, Y4, Y0, Y1; \
	VPERM2I128 $0x31, Y4, Y0, Y2; \
	VPADDD Y2, Y1, Y0

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
	REDUCE8
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

DATA vdnib<>+0(SB)/1, $0x0f
GLOBL vdnib<>(SB), RODATA|NOPTR, $1

// Q4PAIR leaves in RLO and RHI the eight int32 partial sums of sub-blocks
// 2p and 2p+1 of a Q4_K block: the 32 bytes at qoff+16(SI) hold sub-block
// 2p in their low nibbles and 2p+1 in their high ones; the activation's
// codes are at aoff(DI) and aoff+32(DI). Nibbles (0–15) times codes
// (−127…127) as unsigned·signed bytes (VPMADDUBSW; pair sums fit int16),
// pairs of int16 into int32. Uses Y13 and Y14; Y10 holds 0x0f bytes, Y12
// int16 ones.
#define Q4PAIR(qoff, aoff, RLO, RHI) \
	VMOVDQU qoff+16(SI), Y13; \
	VPAND Y10, Y13, Y14; \
	VPSRLW $4, Y13, Y13; \
	VPAND Y10, Y13, Y13; \
	VPMADDUBSW aoff(DI), Y14, Y14; \
	VPMADDUBSW aoff+32(DI), Y13, Y13; \
	VPMADDWD Y12, Y14, RLO; \
	VPMADDWD Y12, Y13, RHI

// HSUM adds the eight int32 lanes of R (X its low half) into REG; uses
// X14 and X15.
#define HSUM(R, X, REG) \
	VEXTRACTI128 $1, R, X15; \
	VPADDD X15, X, X15; \
	VPSHUFD $0x4e, X15, X14; \
	VPADDD X14, X15, X15; \
	VPSHUFD $0xb1, X15, X14; \
	VPADDD X14, X15, X15; \
	VMOVD X15, REG

// func dotQ4K(w, sm *byte, q *int8, asum *int32, d *float32, nb int) float32
// A Q4_K row (nb blocks of 144 bytes; sm its unpacked scales and mins, 16
// bytes a block) times a Q8_K activation (codes, sub-block sums, scales),
// as Q4KRows.Dot defines it.
TEXT ·dotQ4K(SB), NOSPLIT, $0-52
	MOVQ w+0(FP), SI
	MOVQ sm+8(FP), R8
	MOVQ q+16(FP), DI
	MOVQ asum+24(FP), DX
	MOVQ d+32(FP), R9
	MOVQ nb+40(FP), CX
	VPBROADCASTB vdnib<>(SB), Y10
	VPBROADCASTW vdones<>(SB), Y12
	VXORPS X11, X11, X11
q4loop:
	Q4PAIR(0, 0, Y0, Y1)
	Q4PAIR(32, 64, Y2, Y3)
	Q4PAIR(64, 128, Y4, Y5)
	Q4PAIR(96, 192, Y6, Y7)
	// the eight sub-blocks' sums into one vector, sub-block j in lane j
	REDUCE8
	// sumi = Σ sc_j·isum_j, summ = Σ m_j·asum_j
	VPMOVZXBD 0(R8), Y8
	VPMULLD Y8, Y0, Y0
	VPMOVZXBD 8(R8), Y9
	VPMULLD (DX), Y9, Y9
	HSUM(Y0, X0, AX)
	HSUM(Y9, X9, BX)
	// acc += float32(d·da)·sumi − float32(dmin·da)·summ
	MOVWLZX 0(SI), R10
	VMOVD R10, X1
	VCVTPH2PS X1, X1
	MOVWLZX 2(SI), R10
	VMOVD R10, X2
	VCVTPH2PS X2, X2
	VMOVSS (R9), X3
	VMULSS X3, X1, X1
	VCVTSI2SSL AX, X4, X4
	VMULSS X4, X1, X1
	VMULSS X3, X2, X2
	VCVTSI2SSL BX, X5, X5
	VMULSS X5, X2, X2
	VSUBSS X2, X1, X1
	VADDSS X1, X11, X11
	ADDQ $144, SI
	ADDQ $16, R8
	ADDQ $256, DI
	ADDQ $32, DX
	ADDQ $4, R9
	DECQ CX
	JNZ q4loop
	VMOVSS X11, ret+48(FP)
	VZEROUPPER
	RET

DATA vdthree<>+0(SB)/1, $0x03
GLOBL vdthree<>(SB), RODATA|NOPTR, $1

// The lane order VPHADDD leaves 16-value sub-block sums in (see dotQ6K).
DATA q6perm<>+0(SB)/4, $0
DATA q6perm<>+4(SB)/4, $2
DATA q6perm<>+8(SB)/4, $4
DATA q6perm<>+12(SB)/4, $6
DATA q6perm<>+16(SB)/4, $1
DATA q6perm<>+20(SB)/4, $3
DATA q6perm<>+24(SB)/4, $5
DATA q6perm<>+28(SB)/4, $7
GLOBL q6perm<>(SB), RODATA|NOPTR, $32

// Q6DOT leaves in R the int32 partial sums of the 32 codes Q (q + 32,
// 0…63, bytes) times the activation's codes at aoff(DI): lanes 0–3 the
// first 16, lanes 4–7 the next 16. Y12 holds int16 ones.
#define Q6DOT(Q, aoff, R) \
	VPMADDUBSW aoff(DI), Q, Q; \
	VPMADDWD Y12, Q, R

// Q6HALF leaves in W the sums of the eight 16-value sub-blocks of half n
// of a Q6_K block (ql at qloff(SI), qh at qhoff(SI), codes at aoff(DI)), in
// the lane order 0 2 4 6 1 3 5 7. Y9 holds 0x03 bytes, Y10 0x0f bytes;
// uses Y0–Y8.
#define Q6HALF(qloff, qhoff, aoff, W) \
	VMOVDQU qloff(SI), Y0; \
	VMOVDQU qloff+32(SI), Y1; \
	VMOVDQU qhoff(SI), Y2; \
	VPAND Y10, Y0, Y3; \
	VPAND Y9, Y2, Y4; \
	VPSLLW $4, Y4, Y4; \
	VPOR Y4, Y3, Y3; \
	Q6DOT(Y3, aoff, Y5); \
	VPAND Y10, Y1, Y3; \
	VPSRLW $2, Y2, Y4; \
	VPAND Y9, Y4, Y4; \
	VPSLLW $4, Y4, Y4; \
	VPOR Y4, Y3, Y3; \
	Q6DOT(Y3, aoff+32, Y6); \
	VPSRLW $4, Y0, Y3; \
	VPAND Y10, Y3, Y3; \
	VPSRLW $4, Y2, Y4; \
	VPAND Y9, Y4, Y4; \
	VPSLLW $4, Y4, Y4; \
	VPOR Y4, Y3, Y3; \
	Q6DOT(Y3, aoff+64, Y7); \
	VPSRLW $4, Y1, Y3; \
	VPAND Y10, Y3, Y3; \
	VPSRLW $6, Y2, Y4; \
	VPAND Y9, Y4, Y4; \
	VPSLLW $4, Y4, Y4; \
	VPOR Y4, Y3, Y3; \
	Q6DOT(Y3, aoff+96, Y8); \
	VPHADDD Y6, Y5, Y5; \
	VPHADDD Y8, Y7, Y7; \
	VPHADDD Y7, Y5, W

// Q6SCALE multiplies W (sub-block sums, lane order 0 2 4 6 1 3 5 7 of
// sub-blocks soff…soff+7) by (sum − 32·asum16) and the sub-block scales,
// leaving the products in W. Y11 holds the lane permutation; uses Y13, Y14.
#define Q6SCALE(W, soff, aoff) \
	VPMOVSXBD soff(SI), Y13; \
	VPERMD Y13, Y11, Y13; \
	VMOVDQU aoff(DX), Y14; \
	VPERMD Y14, Y11, Y14; \
	VPSLLD $5, Y14, Y14; \
	VPSUBD Y14, W, W; \
	VPMULLD Y13, W, W

// func dotQ6K(w *byte, q *int8, asum16 *int32, d *float32, nb int) float32
// A Q6_K row (nb blocks of 210 bytes) times a Q8_K activation, as DotQ6_K
// defines it; the running sum lives in the result slot.
TEXT ·dotQ6K(SB), NOSPLIT, $0-44
	MOVQ w+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ asum16+16(FP), DX
	MOVQ d+24(FP), R9
	MOVQ nb+32(FP), CX
	MOVL $0, ret+40(FP)
	VPBROADCASTB vdnib<>(SB), Y10
	VPBROADCASTB vdthree<>(SB), Y9
	VPBROADCASTW vdones<>(SB), Y12
	VMOVDQU q6perm<>(SB), Y11
q6loop:
	Q6HALF(0, 128, 0, Y15)
	Q6SCALE(Y15, 192, 0)
	Q6HALF(64, 160, 128, Y0)
	Q6SCALE(Y0, 200, 32)
	VPADDD Y15, Y0, Y0
	HSUM(Y0, X0, AX)
	// acc += float32(d·da)·isum
	MOVWLZX 208(SI), R10
	VMOVD R10, X1
	VCVTPH2PS X1, X1
	VMULSS (R9), X1, X1
	VCVTSI2SSL AX, X2, X2
	VMULSS X2, X1, X1
	VADDSS ret+40(FP), X1, X1
	VMOVSS X1, ret+40(FP)
	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $64, DX
	ADDQ $4, R9
	DECQ CX
	JNZ q6loop
	VZEROUPPER
	RET
