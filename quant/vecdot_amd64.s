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

// GROUPTAIL finishes a group of eight blocks of BS bytes whose int32
// partial sums are in Y0…Y7 (block k in Yk): the eight blocks' sums into
// one vector, block k in lane k (REDUCE8), as float32, times the weight
// scales (f16 at the start of each block) times the activation's (float32
// at (DX)), added to Y11; then steps SI, DI and DX to the next group.
// Uses Y8.
#define GROUPTAIL(BS) \
	REDUCE8; \
	GROUPSCALE(BS)

// GROUPSCALE is GROUPTAIL after REDUCE8.
#define GROUPSCALE(BS) \
	VCVTDQ2PS Y0, Y0; \
	MOVWLZX 0(SI), AX; \
	VMOVD AX, X8; \
	VPINSRW $1, BS(SI), X8, X8; \
	VPINSRW $2, 2*BS(SI), X8, X8; \
	VPINSRW $3, 3*BS(SI), X8, X8; \
	VPINSRW $4, 4*BS(SI), X8, X8; \
	VPINSRW $5, 5*BS(SI), X8, X8; \
	VPINSRW $6, 6*BS(SI), X8, X8; \
	VPINSRW $7, 7*BS(SI), X8, X8; \
	VCVTPH2PS X8, Y8; \
	VMULPS (DX), Y8, Y8; \
	VMULPS Y8, Y0, Y0; \
	VADDPS Y0, Y11, Y11; \
	ADDQ $8*BS, SI; \
	ADDQ $256, DI; \
	ADDQ $32, DX

// GROUPARGS loads the arguments of the eight-block kernels and the
// accumulator (Y11); Y12 gets int16 ones.
#define GROUPARGS \
	MOVQ w+0(FP), SI; \
	MOVQ q+8(FP), DI; \
	MOVQ d+16(FP), DX; \
	MOVQ groups+24(FP), CX; \
	MOVQ acc+32(FP), R8; \
	VMOVUPS (R8), Y11; \
	VPBROADCASTW vdones<>(SB), Y12

// func dotQ8x8(w *byte, q *int8, d *float32, groups int, acc *[8]float32)
// Eight blocks per group: block k of a group into lane k of acc, as
// acc[k] += float32(Σ w·a) · float32(dw·da), the integer sums exact.
TEXT ·dotQ8x8(SB), NOSPLIT, $0-40
	GROUPARGS
loop:
	BLOCKSUM(0, 0, Y0)
	BLOCKSUM(34, 32, Y1)
	BLOCKSUM(68, 64, Y2)
	BLOCKSUM(102, 96, Y3)
	BLOCKSUM(136, 128, Y4)
	BLOCKSUM(170, 160, Y5)
	BLOCKSUM(204, 192, Y6)
	BLOCKSUM(238, 224, Y7)
	GROUPTAIL(34)
	DECQ CX
	JNZ loop
	VMOVUPS Y11, (R8)
	VZEROUPPER
	RET

// NIBBLES leaves in Y13 the 32 codes of the 16 bytes at off(SI): byte j's
// low nibble is value j, its high nibble value j+16. Y10 holds 0x0f
// bytes; uses Y15.
#define NIBBLES(off) \
	VMOVDQU off(SI), X13; \
	VPSRLW $4, X13, X15; \
	VINSERTI128 $1, X15, Y13, Y13; \
	VPAND Y10, Y13, Y13

// UDOT leaves in R the eight int32 partial sums of the 32 unsigned codes
// in Y13 (below 32) times the activation's codes at aoff(DI): VPMADDUBSW
// (pair sums ≤ 2·31·127 fit int16), then pairs into int32 (VPMADDWD with
// the int16 ones in Y12).
#define UDOT(aoff, R) \
	VPMADDUBSW aoff(DI), Y13, Y13; \
	VPMADDWD Y12, Y13, R

// OFFSET takes the codes' offset out of the eight blocks' sums in Y0
// (after REDUCE8): lane k less the block's activation code sum (at (R9))
// shifted left by SHIFT (the offset 8 or 16), exact in int32.
#define OFFSET(SHIFT) \
	VMOVDQU (R9), Y1; \
	VPSLLD $SHIFT, Y1, Y1; \
	VPSUBD Y1, Y0, Y0; \
	ADDQ $32, R9

// func dotQ40x8(w *byte, q *int8, d *float32, groups int, acc *[8]float32, asum *int32)
// dotQ8x8 for Q4_0 blocks (18 bytes): Σ (q−8)·a taken as Σ q·a − 8·Σ a,
// the same integer.
TEXT ·dotQ40x8(SB), NOSPLIT, $0-48
	GROUPARGS
	MOVQ asum+40(FP), R9
	VPBROADCASTB vdnib<>(SB), Y10
q40loop:
	NIBBLES(2)
	UDOT(0, Y0)
	NIBBLES(20)
	UDOT(32, Y1)
	NIBBLES(38)
	UDOT(64, Y2)
	NIBBLES(56)
	UDOT(96, Y3)
	NIBBLES(74)
	UDOT(128, Y4)
	NIBBLES(92)
	UDOT(160, Y5)
	NIBBLES(110)
	UDOT(192, Y6)
	NIBBLES(128)
	UDOT(224, Y7)
	REDUCE8
	OFFSET(3)
	GROUPSCALE(18)
	DECQ CX
	JNZ q40loop
	VMOVUPS Y11, (R8)
	VZEROUPPER
	RET

// Q50CODES leaves in Y13 the codes q (0…31) of the Q5_0 block at off(SI)
// (qh at off+2, nibbles at off+6): byte i takes bit i of qh (q5byte picks
// qh's byte i/8, q5sel in Y8 bit i mod 8, the compare makes it a byte
// mask, 0x10 in Y9 its value). Uses Y14, Y15.
#define Q50CODES(off) \
	VPBROADCASTD off+2(SI), Y14; \
	VPSHUFB q5byte<>(SB), Y14, Y14; \
	VPAND Y8, Y14, Y14; \
	VPCMPEQB Y8, Y14, Y14; \
	VPAND Y9, Y14, Y14; \
	NIBBLES(off+6); \
	VPOR Y14, Y13, Y13

// func dotQ50x8(w *byte, q *int8, d *float32, groups int, acc *[8]float32, asum *int32)
// dotQ8x8 for Q5_0 blocks (22 bytes): Σ (q−16)·a taken as Σ q·a − 16·Σ a.
TEXT ·dotQ50x8(SB), NOSPLIT, $0-48
	GROUPARGS
	MOVQ asum+40(FP), R9
	VPBROADCASTB vdnib<>(SB), Y10
	VPBROADCASTB vdsixteen<>(SB), Y9
q50loop:
	VMOVDQU q5sel<>(SB), Y8
	Q50CODES(0)
	UDOT(0, Y0)
	Q50CODES(22)
	UDOT(32, Y1)
	Q50CODES(44)
	UDOT(64, Y2)
	Q50CODES(66)
	UDOT(96, Y3)
	Q50CODES(88)
	UDOT(128, Y4)
	Q50CODES(110)
	UDOT(160, Y5)
	Q50CODES(132)
	UDOT(192, Y6)
	Q50CODES(154)
	UDOT(224, Y7)
	REDUCE8
	OFFSET(4)
	GROUPSCALE(22)
	DECQ CX
	JNZ q50loop
	VMOVUPS Y11, (R8)
	VZEROUPPER
	RET

// Q50CODESK is Q50CODES with AVX-512: KMOVD takes qh into K1, VPMOVM2B
// spreads it to 0xff bytes where a bit is set. Uses Y14, Y15.
#define Q50CODESK(off) \
	KMOVD off+2(SI), K1; \
	VPMOVM2B K1, Y14; \
	VPAND Y9, Y14, Y14; \
	NIBBLES(off+6); \
	VPOR Y14, Y13, Y13

// func dotQ50x8k(w *byte, q *int8, d *float32, groups int, acc *[8]float32, asum *int32)
// dotQ50x8 with AVX-512 (BW, VL): qh's 32 bits become a byte mask in
// one VPMOVM2B from a mask register instead of a shuffle, AND and compare.
// dotQ8x8 for Q5_0 blocks (22 bytes): Σ (q−16)·a taken as Σ q·a − 16·Σ a.
TEXT ·dotQ50x8k(SB), NOSPLIT, $0-48
	GROUPARGS
	MOVQ asum+40(FP), R9
	VPBROADCASTB vdnib<>(SB), Y10
	VPBROADCASTB vdsixteen<>(SB), Y9
q50kloop:
	Q50CODESK(0)
	UDOT(0, Y0)
	Q50CODESK(22)
	UDOT(32, Y1)
	Q50CODESK(44)
	UDOT(64, Y2)
	Q50CODESK(66)
	UDOT(96, Y3)
	Q50CODESK(88)
	UDOT(128, Y4)
	Q50CODESK(110)
	UDOT(160, Y5)
	Q50CODESK(132)
	UDOT(192, Y6)
	Q50CODESK(154)
	UDOT(224, Y7)
	REDUCE8
	OFFSET(4)
	GROUPSCALE(22)
	DECQ CX
	JNZ q50kloop
	VMOVUPS Y11, (R8)
	VZEROUPPER
	RET

DATA vdnib<>+0(SB)/1, $0x0f
GLOBL vdnib<>(SB), RODATA|NOPTR, $1

// Word broadcasts for VPSHUFB: the 32 bytes at q4kshuf+32j repeat word j
// of each 128-bit lane (a sub-block's scale across 16 int16 lanes).
DATA q4kshuf<>+0(SB)/8, $0x0100010001000100
DATA q4kshuf<>+8(SB)/8, $0x0100010001000100
DATA q4kshuf<>+16(SB)/8, $0x0100010001000100
DATA q4kshuf<>+24(SB)/8, $0x0100010001000100
DATA q4kshuf<>+32(SB)/8, $0x0302030203020302
DATA q4kshuf<>+40(SB)/8, $0x0302030203020302
DATA q4kshuf<>+48(SB)/8, $0x0302030203020302
DATA q4kshuf<>+56(SB)/8, $0x0302030203020302
DATA q4kshuf<>+64(SB)/8, $0x0504050405040504
DATA q4kshuf<>+72(SB)/8, $0x0504050405040504
DATA q4kshuf<>+80(SB)/8, $0x0504050405040504
DATA q4kshuf<>+88(SB)/8, $0x0504050405040504
DATA q4kshuf<>+96(SB)/8, $0x0706070607060706
DATA q4kshuf<>+104(SB)/8, $0x0706070607060706
DATA q4kshuf<>+112(SB)/8, $0x0706070607060706
DATA q4kshuf<>+120(SB)/8, $0x0706070607060706
DATA q4kshuf<>+128(SB)/8, $0x0908090809080908
DATA q4kshuf<>+136(SB)/8, $0x0908090809080908
DATA q4kshuf<>+144(SB)/8, $0x0908090809080908
DATA q4kshuf<>+152(SB)/8, $0x0908090809080908
DATA q4kshuf<>+160(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kshuf<>+168(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kshuf<>+176(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kshuf<>+184(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q4kshuf<>+192(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kshuf<>+200(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kshuf<>+208(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kshuf<>+216(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q4kshuf<>+224(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4kshuf<>+232(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4kshuf<>+240(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q4kshuf<>+248(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL q4kshuf<>(SB), RODATA|NOPTR, $256

// Q4CHUNK adds to ACC the products of the 32 bytes at qoff+16(SI) (low
// nibbles sub-block 2p, high nibbles 2p+1) with the activation's codes at
// aoff(DI) and aoff+32(DI), each scaled by its sub-block's scale: nibbles
// (0–15) times codes (−127…127) as unsigned·signed bytes (VPMADDUBSW; pair
// sums fit int16), then pairs of int16 times the scale into int32
// (VPMADDWD), so lane k gains the codes 4k…4k+3. Y8 holds the eight scales
// as words in both 128-bit lanes, Y10 0x0f bytes; uses Y0–Y3.
#define Q4CHUNK(qoff, aoff, soff, ACC) \
	VMOVDQU qoff+16(SI), Y0; \
	VPAND Y10, Y0, Y1; \
	VPSRLW $4, Y0, Y0; \
	VPAND Y10, Y0, Y0; \
	VPMADDUBSW aoff(DI), Y1, Y1; \
	VPMADDUBSW aoff+32(DI), Y0, Y0; \
	VPSHUFB q4kshuf<>+soff(SB), Y8, Y2; \
	VPSHUFB q4kshuf<>+soff+32(SB), Y8, Y3; \
	VPMADDWD Y2, Y1, Y1; \
	VPMADDWD Y3, Y0, Y0; \
	VPADDD Y1, ACC, ACC; \
	VPADDD Y0, ACC, ACC

// KSCALES unpacks the 6-bit scales and mins of the K-quant block at SI
// (12 bytes at 4(SI), read as three uint32 u0 u1 u2) in general registers
// as ggml does (kmask1 0x3f3f3f3f, kmask2 0x0f0f0f0f, kmask3 0x03030303):
// scales u0&k1 | ((u2&k2) | ((u0>>6)&k3)<<4)<<32, mins u1&k1 |
// (((u2>>4)&k2) | ((u1>>6)&k3)<<4)<<32. It leaves the eight scales as
// words in both 128-bit lanes of Y8 and the eight mins times the
// activation's 32-value sums at (DX) as int32 in Y9. Uses R10–R14.
#define KSCALES \
	MOVL 4(SI), R10; \
	MOVL 8(SI), R11; \
	MOVL 12(SI), R12; \
	MOVL R10, R13; \
	SHRL $6, R13; \
	ANDL $0x03030303, R13; \
	SHLL $4, R13; \
	MOVL R12, R14; \
	ANDL $0x0f0f0f0f, R14; \
	ORL R14, R13; \
	SHLQ $32, R13; \
	ANDL $0x3f3f3f3f, R10; \
	ORQ R10, R13; \
	MOVL R11, R14; \
	SHRL $6, R14; \
	ANDL $0x03030303, R14; \
	SHLL $4, R14; \
	SHRL $4, R12; \
	ANDL $0x0f0f0f0f, R12; \
	ORL R12, R14; \
	SHLQ $32, R14; \
	ANDL $0x3f3f3f3f, R11; \
	ORQ R11, R14; \
	VMOVQ R13, X8; \
	VPMOVZXBW X8, X8; \
	VPERMQ $0x44, Y8, Y8; \
	VMOVQ R14, X9; \
	VPMOVZXBD X9, Y9; \
	VPMULLD (DX), Y9, Y9

// DMTAIL adds a block's lanes to the accumulators: SUM (int32) times
// dd = float32(d·da) into Y11, MINS (int32) times dm = float32(dmin·da)
// into Y12, each lane float32(float32(lane)·dd) (d, dmin the f16 pair at
// off(SI), da at (R9)). Uses Y1, Y2.
#define DMTAIL(off, SUM, MINS) \
	VMOVD off(SI), X1; \
	VCVTPH2PS X1, X1; \
	VBROADCASTSS (R9), X2; \
	VMULPS X2, X1, X1; \
	VMOVSHDUP X1, X2; \
	VBROADCASTSS X1, Y1; \
	VBROADCASTSS X2, Y2; \
	VCVTDQ2PS SUM, SUM; \
	VMULPS Y1, SUM, SUM; \
	VADDPS SUM, Y11, Y11; \
	VCVTDQ2PS MINS, MINS; \
	VMULPS Y2, MINS, MINS; \
	VADDPS MINS, Y12, Y12

// KTAIL adds a Q4_K/Q5_K block's lanes (Y4 + Y5, mins·sums in Y9) to the
// accumulators and steps to the next block of size BS.
#define KTAIL(BS) \
	VPADDD Y5, Y4, Y4; \
	DMTAIL(0, Y4, Y9); \
	ADDQ $BS, SI; \
	ADDQ $256, DI; \
	ADDQ $32, DX; \
	ADDQ $4, R9

// KARGS loads the arguments shared by dotQ4K and dotQ5K and the
// accumulators (Y11, Y12).
#define KARGS \
	MOVQ w+0(FP), SI; \
	MOVQ q+8(FP), DI; \
	MOVQ asum+16(FP), DX; \
	MOVQ d+24(FP), R9; \
	MOVQ nb+32(FP), CX; \
	MOVQ acc+40(FP), AX; \
	MOVQ accm+48(FP), BX; \
	VMOVUPS (AX), Y11; \
	VMOVUPS (BX), Y12; \
	VPBROADCASTB vdnib<>(SB), Y10

// func dotQ4K(w *byte, q *int8, asum *int32, d *float32, nb int, acc, accm *[8]float32)
// A Q4_K row (nb blocks of 144 bytes) times a Q8_K activation (codes,
// 32-value sub-block sums, scales), accumulated into acc and accm as
// dotQ45KGo does.
TEXT ·dotQ4K(SB), NOSPLIT, $0-56
	KARGS
q4loop:
	KSCALES
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	Q4CHUNK(0, 0, 0, Y4)
	Q4CHUNK(32, 64, 64, Y5)
	Q4CHUNK(64, 128, 128, Y4)
	Q4CHUNK(96, 192, 192, Y5)
	KTAIL(144)
	DECQ CX
	JNZ q4loop
	VMOVUPS Y11, (AX)
	VMOVUPS Y12, (BX)
	VZEROUPPER
	RET

// Q5CHUNK is Q4CHUNK for Q5_K (nibbles at qoff+48(SI)): each code gains
// its fifth bit from the qh bytes in Y15, bit s (2p for the low nibbles,
// 2p+1 for the high) moved to bit 4 by a word shift (SL/SR by KL/KH) and
// masked with 0x10 (Y14), which drops what the shift carries across bytes.
#define Q5CHUNK(qoff, aoff, soff, SL, KL, SH, KH, ACC) \
	VMOVDQU qoff+48(SI), Y0; \
	VPAND Y10, Y0, Y1; \
	VPSRLW $4, Y0, Y0; \
	VPAND Y10, Y0, Y0; \
	SL $KL, Y15, Y2; \
	VPAND Y14, Y2, Y2; \
	VPOR Y2, Y1, Y1; \
	SH $KH, Y15, Y3; \
	VPAND Y14, Y3, Y3; \
	VPOR Y3, Y0, Y0; \
	VPMADDUBSW aoff(DI), Y1, Y1; \
	VPMADDUBSW aoff+32(DI), Y0, Y0; \
	VPSHUFB q4kshuf<>+soff(SB), Y8, Y2; \
	VPSHUFB q4kshuf<>+soff+32(SB), Y8, Y3; \
	VPMADDWD Y2, Y1, Y1; \
	VPMADDWD Y3, Y0, Y0; \
	VPADDD Y1, ACC, ACC; \
	VPADDD Y0, ACC, ACC

// func dotQ5K(w *byte, q *int8, asum *int32, d *float32, nb int, acc, accm *[8]float32)
// A Q5_K row (nb blocks of 176 bytes: d, dmin, scales, qh at 16, nibbles
// at 48) times a Q8_K activation, accumulated as dotQ45KGo does.
TEXT ·dotQ5K(SB), NOSPLIT, $0-56
	KARGS
	VPBROADCASTB vdsixteen<>(SB), Y14
q5loop:
	KSCALES
	VMOVDQU 16(SI), Y15
	VPXOR Y4, Y4, Y4
	VPXOR Y5, Y5, Y5
	Q5CHUNK(0, 0, 0, VPSLLW, 4, VPSLLW, 3, Y4)
	Q5CHUNK(32, 64, 64, VPSLLW, 2, VPSLLW, 1, Y5)
	Q5CHUNK(64, 128, 128, VPSLLW, 0, VPSRLW, 1, Y4)
	Q5CHUNK(96, 192, 192, VPSRLW, 2, VPSRLW, 3, Y5)
	KTAIL(176)
	DECQ CX
	JNZ q5loop
	VMOVUPS Y11, (AX)
	VMOVUPS Y12, (BX)
	VZEROUPPER
	RET

DATA vdsixteen<>+0(SB)/1, $0x10
GLOBL vdsixteen<>(SB), RODATA|NOPTR, $1

DATA vdthree<>+0(SB)/1, $0x03
GLOBL vdthree<>(SB), RODATA|NOPTR, $1

// Word broadcasts for VPSHUFB: the 32 bytes at q6kshuf+32g repeat word 2g
// of the low 128-bit lane and word 2g+1 of the high one (the scales of the
// two 16-value sub-blocks of chunk g).
DATA q6kshuf<>+0(SB)/8, $0x0100010001000100
DATA q6kshuf<>+8(SB)/8, $0x0100010001000100
DATA q6kshuf<>+16(SB)/8, $0x0302030203020302
DATA q6kshuf<>+24(SB)/8, $0x0302030203020302
DATA q6kshuf<>+32(SB)/8, $0x0504050405040504
DATA q6kshuf<>+40(SB)/8, $0x0504050405040504
DATA q6kshuf<>+48(SB)/8, $0x0706070607060706
DATA q6kshuf<>+56(SB)/8, $0x0706070607060706
DATA q6kshuf<>+64(SB)/8, $0x0908090809080908
DATA q6kshuf<>+72(SB)/8, $0x0908090809080908
DATA q6kshuf<>+80(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6kshuf<>+88(SB)/8, $0x0b0a0b0a0b0a0b0a
DATA q6kshuf<>+96(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6kshuf<>+104(SB)/8, $0x0d0c0d0c0d0c0d0c
DATA q6kshuf<>+112(SB)/8, $0x0f0e0f0e0f0e0f0e
DATA q6kshuf<>+120(SB)/8, $0x0f0e0f0e0f0e0f0e
GLOBL q6kshuf<>(SB), RODATA|NOPTR, $128

// Q6CHUNK adds to ACC the products of the 32 codes Q (q + 32, 0…63, bytes)
// with the activation's codes at aoff(DI) (pair sums ≤ 2·63·127 fit int16),
// each 16 scaled by their sub-block's scale (Y13: words 2g, 2g+1 picked
// from Y9 by the control CTRL, q6kshuf+32g): lane k gains the codes
// 4k…4k+3. Uses Y13.
#define Q6CHUNK(Q, aoff, CTRL, ACC) \
	VPMADDUBSW aoff(DI), Q, Q; \
	VPSHUFB CTRL, Y9, Y13; \
	VPMADDWD Y13, Q, Q; \
	VPADDD Q, ACC, ACC

// Q6HALF adds to ACC the products of half n of a Q6_K block (ql at
// qloff(SI), qh at qhoff(SI), activation codes at aoff(DI)): chunk g's
// codes are the low (g < 2) or high nibbles of ql, ORed with qh's bits
// 2g, 2g+1 shifted to bits 4, 5 and masked with 0x30 (the mask drops what
// a word shift carries across bytes). Y9 holds the half's eight scales as
// words in both 128-bit lanes, Y6, Y7, Y8, Y12 the shuffle controls of
// chunks 0–3, Y10 0x0f bytes, Y14 0x30; uses Y0–Y4 and Y13.
#define Q6HALF(qloff, qhoff, aoff, ACC) \
	VMOVDQU qloff(SI), Y0; \
	VMOVDQU qloff+32(SI), Y1; \
	VMOVDQU qhoff(SI), Y2; \
	VPAND Y10, Y0, Y3; \
	VPSLLW $4, Y2, Y4; \
	VPAND Y14, Y4, Y4; \
	VPOR Y4, Y3, Y3; \
	Q6CHUNK(Y3, aoff, Y6, ACC); \
	VPAND Y10, Y1, Y3; \
	VPSLLW $2, Y2, Y4; \
	VPAND Y14, Y4, Y4; \
	VPOR Y4, Y3, Y3; \
	Q6CHUNK(Y3, aoff+32, Y7, ACC); \
	VPSRLW $4, Y0, Y3; \
	VPAND Y10, Y3, Y3; \
	VPAND Y14, Y2, Y4; \
	VPOR Y4, Y3, Y3; \
	Q6CHUNK(Y3, aoff+64, Y8, ACC); \
	VPSRLW $4, Y1, Y3; \
	VPAND Y10, Y3, Y3; \
	VPSRLW $2, Y2, Y4; \
	VPAND Y14, Y4, Y4; \
	VPOR Y4, Y3, Y3; \
	Q6CHUNK(Y3, aoff+96, Y12, ACC)

// BSARGS loads the arguments shared by dotQ6K, dotQ3K and dotQ2K (w, q,
// bsums, d, nb, acc) and acc's lanes into Y11.
#define BSARGS \
	MOVQ w+0(FP), SI; \
	MOVQ q+8(FP), DI; \
	MOVQ bsums+16(FP), DX; \
	MOVQ d+24(FP), R9; \
	MOVQ nb+32(FP), CX; \
	MOVQ acc+40(FP), AX; \
	VMOVUPS (AX), Y11

// SHUFCTRLS loads the four q6kshuf controls (chunks 0–3) into A, B, C, D.
#define SHUFCTRLS(A, B, C, D) \
	VMOVDQU q6kshuf<>+0(SB), A; \
	VMOVDQU q6kshuf<>+32(SB), B; \
	VMOVDQU q6kshuf<>+64(SB), C; \
	VMOVDQU q6kshuf<>+96(SB), D

// DTAIL adds the int32 lanes SUM times float32(d·da) to Y11 (d the f16 at
// off(SI), da at (R9)), each lane float32(float32(lane)·float32(d·da)).
// Uses Y1.
#define DTAIL(off, SUM) \
	MOVWLZX off(SI), R10; \
	VMOVD R10, X1; \
	VCVTPH2PS X1, X1; \
	VMULSS (R9), X1, X1; \
	VBROADCASTSS X1, Y1; \
	VCVTDQ2PS SUM, SUM; \
	VMULPS Y1, SUM, SUM; \
	VADDPS SUM, Y11, Y11

// func dotQ6K(w *byte, q *int8, bsums *int16, d *float32, nb int, acc *[8]float32)
// A Q6_K row (nb blocks of 210 bytes) times a Q8_K activation (codes,
// 16-value sums, scales), accumulated into acc as dotQ6KGo does.
TEXT ·dotQ6K(SB), NOSPLIT, $0-48
	BSARGS
	VPBROADCASTB vdnib<>(SB), Y10
	VPBROADCASTB vdthree<>(SB), Y14
	VPSLLW $4, Y14, Y14
	SHUFCTRLS(Y6, Y7, Y8, Y12)
q6loop:
	VPMOVSXBW 192(SI), Y15
	VPXOR Y5, Y5, Y5
	VPERMQ $0x44, Y15, Y9
	Q6HALF(0, 128, 0, Y5)
	VPERMQ $0xee, Y15, Y9
	Q6HALF(64, 160, 128, Y5)
	// less the offset: lane k, 32·(sc_2k·bsum_2k + sc_2k+1·bsum_2k+1)
	VPMADDWD (DX), Y15, Y13
	VPSLLD $5, Y13, Y13
	VPSUBD Y13, Y5, Y5
	// acc += float32(float32(lane)·float32(d·da))
	DTAIL(208, Y5)
	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $32, DX
	ADDQ $4, R9
	DECQ CX
	JNZ q6loop
	VMOVUPS Y11, (AX)
	VZEROUPPER
	RET


// Byte i of a Q5_0 block's codes takes bit i of qh: q5byte picks qh's byte
// i/8 (qh broadcast to every dword), q5sel bit i mod 8.
DATA q5byte<>+0(SB)/8, $0x0000000000000000
DATA q5byte<>+8(SB)/8, $0x0101010101010101
DATA q5byte<>+16(SB)/8, $0x0202020202020202
DATA q5byte<>+24(SB)/8, $0x0303030303030303
GLOBL q5byte<>(SB), RODATA|NOPTR, $32
DATA q5sel<>+0(SB)/8, $0x8040201008040201
DATA q5sel<>+8(SB)/8, $0x8040201008040201
DATA q5sel<>+16(SB)/8, $0x8040201008040201
DATA q5sel<>+24(SB)/8, $0x8040201008040201
GLOBL q5sel<>(SB), RODATA|NOPTR, $32

// KCHUNK adds to Y3 the products of the 32 codes in Y1 (unsigned, small)
// with the activation's codes at aoff(DI), each 16 scaled by their
// sub-block's scale (CTRL picks words 2g, 2g+1 of the half's scales in Y9,
// as in Q6CHUNK). Uses Y1, Y2.
#define KCHUNK(aoff, CTRL) \
	VPMADDUBSW aoff(DI), Y1, Y1; \
	VPSHUFB CTRL, Y9, Y2; \
	VPMADDWD Y2, Y1, Y1; \
	VPADDD Y1, Y3, Y3

// Q2HALF adds to Y3 half n of a Q2_K block: the 32 bytes at qoff(SI)
// hold chunk g's codes in bits 2g, 2g+1 (a word shift, then 0x03 in Y8).
#define Q2HALF(qoff, aoff) \
	VMOVDQU qoff(SI), Y0; \
	VPAND Y8, Y0, Y1; \
	KCHUNK(aoff, Y4); \
	VPSRLW $2, Y0, Y1; \
	VPAND Y8, Y1, Y1; \
	KCHUNK(aoff+32, Y5); \
	VPSRLW $4, Y0, Y1; \
	VPAND Y8, Y1, Y1; \
	KCHUNK(aoff+64, Y6); \
	VPSRLW $6, Y0, Y1; \
	VPAND Y8, Y1, Y1; \
	KCHUNK(aoff+96, Y7)

// func dotQ2K(w *byte, q *int8, bsums *int16, d *float32, nb int, acc, accm *[8]float32)
// A Q2_K row (nb blocks of 84 bytes: scales and mins as nibbles, 2-bit
// codes, d, dmin) times a Q8_K activation, accumulated into acc and accm
// as dotQ2KGo does.
TEXT ·dotQ2K(SB), NOSPLIT, $0-56
	BSARGS
	MOVQ accm+48(FP), BX
	VMOVUPS (BX), Y12
	VPBROADCASTB vdnib<>(SB), Y10
	VPBROADCASTB vdthree<>(SB), Y8
	SHUFCTRLS(Y4, Y5, Y6, Y7)
q2loop:
	// scales (low nibbles) and mins (high) as 16 words each; the mins
	// times the activation's 16-value sums, pairs into lane k
	VMOVDQU 0(SI), X13
	VPAND X10, X13, X14
	VPMOVZXBW X14, Y15
	VPSRLW $4, X13, X13
	VPAND X10, X13, X13
	VPMOVZXBW X13, Y13
	VPMADDWD (DX), Y13, Y13
	VPXOR Y3, Y3, Y3
	VPERMQ $0x44, Y15, Y9
	Q2HALF(16, 0)
	VPERMQ $0xee, Y15, Y9
	Q2HALF(48, 128)
	DMTAIL(80, Y3, Y13)
	ADDQ $84, SI
	ADDQ $256, DI
	ADDQ $32, DX
	ADDQ $4, R9
	DECQ CX
	JNZ q2loop
	VMOVUPS Y11, (AX)
	VMOVUPS Y12, (BX)
	VZEROUPPER
	RET

// Q3CODES leaves in Y1 chunk g's codes c = q + 4 (0…7): bits 2g, 2g+1 of
// the qs bytes in Y0 (word shift SQ, 0x03 in Y8) ORed with hmask bit t =
// 4n+g of the bytes in Y14 moved to bit 2 (word shift SH by KH, 0x04 in
// Y10; no masked bit crosses bytes). Uses Y2.
#define Q3CODES(SQ, SH, KH) \
	VPSRLW $SQ, Y0, Y1; \
	VPAND Y8, Y1, Y1; \
	SH $KH, Y14, Y2; \
	VPAND Y10, Y2, Y2; \
	VPOR Y2, Y1, Y1

// func dotQ3K(w *byte, q *int8, bsums *int16, d *float32, nb int, acc *[8]float32)
// A Q3_K row (nb blocks of 110 bytes: hmask, qs, 6-bit scales, d) times a
// Q8_K activation, accumulated into acc as dotQ3KGo does. The scales are
// unpacked in general registers as ggml does (kmask1 0x03030303, kmask2
// 0x0f0f0f0f on the 12 bytes read as three uint32 a0 a1 a2: bytes 0–3
// (a0&k2)|(a2&k1)<<4, 4–7 (a1&k2)|((a2>>2)&k1)<<4, 8–11
// ((a0>>4)&k2)|((a2>>4)&k1)<<4, 12–15 ((a1>>4)&k2)|((a2>>6)&k1)<<4), less 32.
TEXT ·dotQ3K(SB), NOSPLIT, $0-48
	BSARGS
	VPBROADCASTB vdthree<>(SB), Y8
	VPBROADCASTB vdfour<>(SB), Y10
	VPBROADCASTB vd32<>(SB), Y12
	SHUFCTRLS(Y4, Y5, Y6, Y7)
q3loop:
	MOVL 96(SI), R10
	MOVL 100(SI), R11
	MOVL 104(SI), R12
	MOVL R12, R13
	ANDL $0x03030303, R13
	SHLL $4, R13
	MOVL R10, R14
	ANDL $0x0f0f0f0f, R14
	ORL R14, R13
	MOVL R12, R14
	SHRL $2, R14
	ANDL $0x03030303, R14
	SHLL $4, R14
	MOVL R11, BX
	ANDL $0x0f0f0f0f, BX
	ORL BX, R14
	SHLQ $32, R14
	ORQ R14, R13
	VMOVQ R13, X15
	MOVL R12, R13
	SHRL $4, R13
	ANDL $0x03030303, R13
	SHLL $4, R13
	MOVL R10, R14
	SHRL $4, R14
	ANDL $0x0f0f0f0f, R14
	ORL R14, R13
	MOVL R12, R14
	SHRL $6, R14
	ANDL $0x03030303, R14
	SHLL $4, R14
	MOVL R11, BX
	SHRL $4, BX
	ANDL $0x0f0f0f0f, BX
	ORL BX, R14
	SHLQ $32, R14
	ORQ R14, R13
	VPINSRQ $1, R13, X15, X15
	VPSUBB X12, X15, X15
	VPMOVSXBW X15, Y15
	// the offset: lane k gets 4·(sc_2k·bsum_2k + sc_2k+1·bsum_2k+1)
	VPMADDWD (DX), Y15, Y13
	VPSLLD $2, Y13, Y13
	VMOVDQU 0(SI), Y14
	VPXOR Y3, Y3, Y3
	VPERMQ $0x44, Y15, Y9
	VMOVDQU 32(SI), Y0
	Q3CODES(0, VPSLLW, 2)
	KCHUNK(0, Y4)
	Q3CODES(2, VPSLLW, 1)
	KCHUNK(32, Y5)
	Q3CODES(4, VPSRLW, 0)
	KCHUNK(64, Y6)
	Q3CODES(6, VPSRLW, 1)
	KCHUNK(96, Y7)
	VPERMQ $0xee, Y15, Y9
	VMOVDQU 64(SI), Y0
	Q3CODES(0, VPSRLW, 2)
	KCHUNK(128, Y4)
	Q3CODES(2, VPSRLW, 3)
	KCHUNK(160, Y5)
	Q3CODES(4, VPSRLW, 4)
	KCHUNK(192, Y6)
	Q3CODES(6, VPSRLW, 5)
	KCHUNK(224, Y7)
	VPSUBD Y13, Y3, Y3
	// acc += float32(lane·float32(d·da))
	DTAIL(108, Y3)
	ADDQ $110, SI
	ADDQ $256, DI
	ADDQ $32, DX
	ADDQ $4, R9
	DECQ CX
	JNZ q3loop
	VMOVUPS Y11, (AX)
	VZEROUPPER
	RET

DATA vd32<>+0(SB)/1, $0x20
GLOBL vd32<>(SB), RODATA|NOPTR, $1
DATA vdfour<>+0(SB)/1, $0x04
GLOBL vdfour<>(SB), RODATA|NOPTR, $1

// MLXTAIL stores the t_b of a group of eight blocks (int32 sums in Y0
// after REDUCE8): float32(float32(sum)·da) at (R8), then steps DI, DX, R8.
#define MLXTAIL \
	VCVTDQ2PS Y0, Y0; \
	VMULPS (DX), Y0, Y0; \
	VMOVUPS Y0, (R8); \
	ADDQ $256, DI; \
	ADDQ $32, DX; \
	ADDQ $32, R8

// func mlxT4x8(w *byte, q *int8, d *float32, groups int, t *float32)
// DotMLX's block terms for 4-bit rows, eight blocks (16 bytes each) per
// group: the nibbles in the order the activation's codes were permuted to.
TEXT ·mlxT4x8(SB), NOSPLIT, $0-40
	MOVQ w+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ d+16(FP), DX
	MOVQ groups+24(FP), CX
	MOVQ t+32(FP), R8
	VPBROADCASTW vdones<>(SB), Y12
	VPBROADCASTB vdnib<>(SB), Y10
m4loop:
	NIBBLES(0)
	UDOT(0, Y0)
	NIBBLES(16)
	UDOT(32, Y1)
	NIBBLES(32)
	UDOT(64, Y2)
	NIBBLES(48)
	UDOT(96, Y3)
	NIBBLES(64)
	UDOT(128, Y4)
	NIBBLES(80)
	UDOT(160, Y5)
	NIBBLES(96)
	UDOT(192, Y6)
	NIBBLES(112)
	UDOT(224, Y7)
	REDUCE8
	MLXTAIL
	ADDQ $128, SI
	DECQ CX
	JNZ m4loop
	VZEROUPPER
	RET

// M8BLOCK leaves in R the int32 partial sums of block k's 32 codes (bytes
// at off(SI), 0…255) less 128, times the activation's codes at aoff(DI):
// the codes XOR 0x80 (Y9) are c − 128 as signed bytes, then as BLOCKSUM.
#define M8BLOCK(off, aoff, R) \
	VMOVDQU off(SI), Y13; \
	VPXOR Y9, Y13, Y13; \
	VMOVDQU aoff(DI), Y14; \
	VPABSB Y13, Y15; \
	VPSIGNB Y13, Y14, Y14; \
	VPMADDUBSW Y14, Y15, Y15; \
	VPMADDWD Y12, Y15, R

// func mlxT8x8(w *byte, q *int8, d *float32, groups int, t *float32, asum *int32)
// DotMLX's block terms for 8-bit rows, eight blocks (32 bytes each) per
// group: Σ (c−128)·a + 128·Σ a, the same integer as Σ c·a.
TEXT ·mlxT8x8(SB), NOSPLIT, $0-48
	MOVQ w+0(FP), SI
	MOVQ q+8(FP), DI
	MOVQ d+16(FP), DX
	MOVQ groups+24(FP), CX
	MOVQ t+32(FP), R8
	MOVQ asum+40(FP), R9
	VPBROADCASTW vdones<>(SB), Y12
	VPBROADCASTB vd80<>(SB), Y9
m8loop:
	M8BLOCK(0, 0, Y0)
	M8BLOCK(32, 32, Y1)
	M8BLOCK(64, 64, Y2)
	M8BLOCK(96, 96, Y3)
	M8BLOCK(128, 128, Y4)
	M8BLOCK(160, 160, Y5)
	M8BLOCK(192, 192, Y6)
	M8BLOCK(224, 224, Y7)
	REDUCE8
	VMOVDQU (R9), Y1
	VPSLLD $7, Y1, Y1
	VPADDD Y1, Y0, Y0
	ADDQ $32, R9
	MLXTAIL
	ADDQ $256, SI
	DECQ CX
	JNZ m8loop
	VZEROUPPER
	RET

DATA vd80<>+0(SB)/1, $0x80
GLOBL vd80<>(SB), RODATA|NOPTR, $1

// Q2CHUNKZ adds to Z10 chunk g of both halves of a Q2_K block at once
// (AVX-512: the 64 qs bytes in Z0, half n in 256-bit lane n): codes
// (q >> 2g) & 3, the activation's codes of half 0 at aoff(DI) and of half 1
// at aoff+128(DI) in one register, scales picked by the control CTRL from
// Z9 (128-bit lanes: sub-blocks 0–7, 0–7, 8–15, 8–15). The integer lanes
// of the two halves are added at the end, so each of the eight lanes sums
// what DotQ2_K's lane sums. Uses Z1–Z3.
#define Q2CHUNKZ(SHIFT, aoff, CTRL) \
	VPSRLW $SHIFT, Z0, Z1; \
	VPANDD Z8, Z1, Z1; \
	VMOVDQU aoff(DI), Y2; \
	VINSERTI64X4 $1, aoff+128(DI), Z2, Z2; \
	VPMADDUBSW Z2, Z1, Z1; \
	VPSHUFB CTRL, Z9, Z3; \
	VPMADDWD Z3, Z1, Z1; \
	VPADDD Z1, Z10, Z10

// func dotQ2Kz(w *byte, q *int8, bsums *int16, d *float32, nb int, acc, accm *[8]float32)
// dotQ2K with AVX-512 BW: both 128-value halves of a block per instruction.
TEXT ·dotQ2Kz(SB), NOSPLIT, $0-56
	BSARGS
	MOVQ accm+48(FP), BX
	VMOVUPS (BX), Y12
	VPBROADCASTB vdnib<>(SB), Y13
	VPBROADCASTB vdthree<>(SB), Z8
	VBROADCASTI64X4 q6kshuf<>+0(SB), Z4
	VBROADCASTI64X4 q6kshuf<>+32(SB), Z5
	VBROADCASTI64X4 q6kshuf<>+64(SB), Z6
	VBROADCASTI64X4 q6kshuf<>+96(SB), Z7
q2zloop:
	// scales (low nibbles) as 16 words, lanes 0–7 0–7 8–15 8–15 in Z9;
	// the mins times the activation's 16-value sums, pairs into lane k (Y14)
	VMOVDQU 0(SI), X15
	VPAND X13, X15, X14
	VPMOVZXBW X14, Y14
	VSHUFI64X2 $0x50, Z14, Z14, Z9
	VPSRLW $4, X15, X15
	VPAND X13, X15, X15
	VPMOVZXBW X15, Y14
	VPMADDWD (DX), Y14, Y14
	VMOVDQU64 16(SI), Z0
	VPXORD Z10, Z10, Z10
	Q2CHUNKZ(0, 0, Z4)
	Q2CHUNKZ(2, 32, Z5)
	Q2CHUNKZ(4, 64, Z6)
	Q2CHUNKZ(6, 96, Z7)
	VEXTRACTI64X4 $1, Z10, Y3
	VPADDD Y10, Y3, Y3
	DMTAIL(80, Y3, Y14)
	ADDQ $84, SI
	ADDQ $256, DI
	ADDQ $32, DX
	ADDQ $4, R9
	DECQ CX
	JNZ q2zloop
	VMOVUPS Y11, (AX)
	VMOVUPS Y12, (BX)
	VZEROUPPER
	RET

// Q6CHUNKZ adds to Z10 chunk g of both halves of a Q6_K block (AVX-512:
// half n in 256-bit lane n): the codes in Z1, the activation's codes of
// half 0 at aoff(DI) and of half 1 at aoff+128(DI), scales picked by CTRL
// from Z9 as in Q2CHUNKZ. Uses Z2, Z3.
#define Q6CHUNKZ(aoff, CTRL) \
	VMOVDQU aoff(DI), Y2; \
	VINSERTI64X4 $1, aoff+128(DI), Z2, Z2; \
	VPMADDUBSW Z2, Z1, Z1; \
	VPSHUFB CTRL, Z9, Z3; \
	VPMADDWD Z3, Z1, Z1; \
	VPADDD Z1, Z10, Z10

// func dotQ6Kz(w *byte, q *int8, bsums *int16, d *float32, nb int, acc *[8]float32)
// dotQ6K with AVX-512 BW: both 128-value halves of a block per instruction
// (ql's bytes 0–31 with 64–95 and 32–63 with 96–127, qh's 64 bytes whole).
TEXT ·dotQ6Kz(SB), NOSPLIT, $0-48
	BSARGS
	VPBROADCASTB vdnib<>(SB), Z13
	VPBROADCASTB vdthree<>(SB), Z14
	VPSLLW $4, Z14, Z14
	VBROADCASTI64X4 q6kshuf<>+0(SB), Z4
	VBROADCASTI64X4 q6kshuf<>+32(SB), Z5
	VBROADCASTI64X4 q6kshuf<>+64(SB), Z6
	VBROADCASTI64X4 q6kshuf<>+96(SB), Z7
q6zloop:
	VPMOVSXBW 192(SI), Y15
	VSHUFI64X2 $0x50, Z15, Z15, Z9
	VMOVDQU64 0(SI), Y16
	VINSERTI64X4 $1, 64(SI), Z16, Z16
	VMOVDQU64 32(SI), Y17
	VINSERTI64X4 $1, 96(SI), Z17, Z17
	VMOVDQU64 128(SI), Z18
	VPXORD Z10, Z10, Z10
	VPANDD Z13, Z16, Z1
	VPSLLW $4, Z18, Z2
	VPANDD Z14, Z2, Z2
	VPORD Z2, Z1, Z1
	Q6CHUNKZ(0, Z4)
	VPANDD Z13, Z17, Z1
	VPSLLW $2, Z18, Z2
	VPANDD Z14, Z2, Z2
	VPORD Z2, Z1, Z1
	Q6CHUNKZ(32, Z5)
	VPSRLW $4, Z16, Z1
	VPANDD Z13, Z1, Z1
	VPANDD Z14, Z18, Z2
	VPORD Z2, Z1, Z1
	Q6CHUNKZ(64, Z6)
	VPSRLW $4, Z17, Z1
	VPANDD Z13, Z1, Z1
	VPSRLW $2, Z18, Z2
	VPANDD Z14, Z2, Z2
	VPORD Z2, Z1, Z1
	Q6CHUNKZ(96, Z7)
	VEXTRACTI64X4 $1, Z10, Y3
	VPADDD Y10, Y3, Y3
	// less the offset: lane k, 32·(sc_2k·bsum_2k + sc_2k+1·bsum_2k+1)
	VPMADDWD (DX), Y15, Y12
	VPSLLD $5, Y12, Y12
	VPSUBD Y12, Y3, Y3
	DTAIL(208, Y3)
	ADDQ $210, SI
	ADDQ $256, DI
	ADDQ $32, DX
	ADDQ $4, R9
	DECQ CX
	JNZ q6zloop
	VMOVUPS Y11, (AX)
	VZEROUPPER
	RET
