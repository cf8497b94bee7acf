//go:build amd64 && !noasm

#include "textflag.h"

// Legacy-type dequantizers (see dequantLegacyFast): per block the f16
// scales by F16C (exact), the codes widened to int32 and converted (exact),
// then y = code·d, and for Q4_1/Q5_1 + m, as two roundings (VMULPS then
// VADDPS, never a fused multiply-add), as the Go loops in legacy.go do.

DATA dqnib<>+0(SB)/1, $0x0f
GLOBL dqnib<>(SB), RODATA|NOPTR, $1
DATA dq8<>+0(SB)/1, $8
GLOBL dq8<>(SB), RODATA|NOPTR, $1
DATA dq16<>+0(SB)/1, $16
GLOBL dq16<>(SB), RODATA|NOPTR, $1
DATA dqbits<>+0(SB)/8, $0x8040201008040201
GLOBL dqbits<>(SB), RODATA|NOPTR, $8
// dqspread: byte k of a 32-byte vector takes byte k/8 of qh (qh repeated in
// every dword, so each 128-bit lane can index bytes 0…3).
DATA dqspread<>+0(SB)/8, $0x0000000000000000
DATA dqspread<>+8(SB)/8, $0x0101010101010101
DATA dqspread<>+16(SB)/8, $0x0202020202020202
DATA dqspread<>+24(SB)/8, $0x0303030303030303
GLOBL dqspread<>(SB), RODATA|NOPTR, $32

// SCALE1 puts the f16 at off(SI), as float32, in every lane of Y0.
#define SCALE1(off) \
	MOVWLZX off(SI), AX; \
	VMOVD AX, X0; \
	VCVTPH2PS X0, X0; \
	VBROADCASTSS X0, Y0

// SCALE2 puts the f16 d at 0(SI) in every lane of Y0 and the f16 m at
// 2(SI) in every lane of Y9.
#define SCALE2 \
	MOVL 0(SI), AX; \
	VMOVD AX, X0; \
	VCVTPH2PS X0, X0; \
	VPSRLQ $32, X0, X9; \
	VBROADCASTSS X9, Y9; \
	VBROADCASTSS X0, Y0

// NIBBLES leaves in X1 the low and in X2 the high nibbles of the 16 bytes
// at off(SI). Y15 holds 0x0f bytes.
#define NIBBLES(off) \
	VMOVDQU off(SI), X1; \
	VPSRLW $4, X1, X2; \
	VPAND X15, X1, X1; \
	VPAND X15, X2, X2

// WIDEN(EXT, A, B) widens the 16 bytes of A to int32 in Y3, Y4 and of B
// in Y5, Y6 (EXT: VPMOVSXBD signed, VPMOVZXBD unsigned).
#define WIDEN(EXT, A, B) \
	EXT A, Y3; \
	VPSRLDQ $8, A, A; \
	EXT A, Y4; \
	EXT B, Y5; \
	VPSRLDQ $8, B, B; \
	EXT B, Y6

// HIGHBITS leaves in Y2 byte k = 0x10 where bit k of the uint32 at off(SI)
// is set, else 0. Y12: dqspread, Y11: dqbits, Y10: 0x10 bytes.
#define HIGHBITS(off) \
	VPBROADCASTD off(SI), Y2; \
	VPSHUFB Y12, Y2, Y2; \
	VPAND Y11, Y2, Y2; \
	VPCMPEQB Y11, Y2, Y2; \
	VPAND Y10, Y2, Y2

// CVTMUL converts Y3…Y6 to float32 and multiplies them by Y0.
#define CVTMUL \
	VCVTDQ2PS Y3, Y3; \
	VCVTDQ2PS Y4, Y4; \
	VCVTDQ2PS Y5, Y5; \
	VCVTDQ2PS Y6, Y6; \
	VMULPS Y0, Y3, Y3; \
	VMULPS Y0, Y4, Y4; \
	VMULPS Y0, Y5, Y5; \
	VMULPS Y0, Y6, Y6

// STORE4 stores Y3…Y6 at 0…96(DI).
#define STORE4 \
	VMOVUPS Y3, 0(DI); \
	VMOVUPS Y4, 32(DI); \
	VMOVUPS Y5, 64(DI); \
	VMOVUPS Y6, 96(DI)

// STORE is y = code·d for the codes in Y3…Y6 (CVTMUL), stored.
#define STORE \
	CVTMUL; \
	STORE4

// STOREM is y = code·d + m (m in Y9), the sum rounded after the product.
#define STOREM \
	CVTMUL; \
	VADDPS Y9, Y3, Y3; \
	VADDPS Y9, Y4, Y4; \
	VADDPS Y9, Y5, Y5; \
	VADDPS Y9, Y6, Y6; \
	STORE4

#define ARGS \
	MOVQ dst+0(FP), DI; \
	MOVQ src+8(FP), SI; \
	MOVQ nb+16(FP), CX; \
	VPBROADCASTB dqnib<>(SB), Y15

// Q5SETUP loads the constants of HIGHBITS.
#define Q5SETUP \
	VMOVDQU dqspread<>(SB), Y12; \
	VPBROADCASTQ dqbits<>(SB), Y11; \
	VPBROADCASTB dq16<>(SB), Y10

// Q5CODES leaves the 32 five-bit codes of a block in Y1 (code j in byte
// j): nibbles at qs(SI), bit 4 from the qh word at qh(SI).
#define Q5CODES(qh, qs) \
	NIBBLES(qs); \
	VINSERTI128 $1, X2, Y1, Y1; \
	HIGHBITS(qh); \
	VPOR Y2, Y1, Y1

// func dequantQ4_0AVX2(dst *float32, src *byte, nb int)
TEXT ·dequantQ4_0AVX2(SB), NOSPLIT, $0-24
	ARGS
	VPBROADCASTB dq8<>(SB), X14
q40loop:
	SCALE1(0)
	NIBBLES(2)
	VPSUBB X14, X1, X1
	VPSUBB X14, X2, X2
	WIDEN(VPMOVSXBD, X1, X2)
	STORE
	ADDQ $18, SI
	ADDQ $128, DI
	DECQ CX
	JNZ q40loop
	VZEROUPPER
	RET

// func dequantQ4_1AVX2(dst *float32, src *byte, nb int)
TEXT ·dequantQ4_1AVX2(SB), NOSPLIT, $0-24
	ARGS
q41loop:
	SCALE2
	NIBBLES(4)
	WIDEN(VPMOVZXBD, X1, X2)
	STOREM
	ADDQ $20, SI
	ADDQ $128, DI
	DECQ CX
	JNZ q41loop
	VZEROUPPER
	RET

// func dequantQ5_0AVX2(dst *float32, src *byte, nb int)
TEXT ·dequantQ5_0AVX2(SB), NOSPLIT, $0-24
	ARGS
	Q5SETUP
q50loop:
	SCALE1(0)
	Q5CODES(2, 6)
	VPSUBB Y10, Y1, Y1
	VEXTRACTI128 $1, Y1, X2
	WIDEN(VPMOVSXBD, X1, X2)
	STORE
	ADDQ $22, SI
	ADDQ $128, DI
	DECQ CX
	JNZ q50loop
	VZEROUPPER
	RET

// func dequantQ5_1AVX2(dst *float32, src *byte, nb int)
TEXT ·dequantQ5_1AVX2(SB), NOSPLIT, $0-24
	ARGS
	Q5SETUP
q51loop:
	SCALE2
	Q5CODES(4, 8)
	VEXTRACTI128 $1, Y1, X2
	WIDEN(VPMOVZXBD, X1, X2)
	STOREM
	ADDQ $24, SI
	ADDQ $128, DI
	DECQ CX
	JNZ q51loop
	VZEROUPPER
	RET

// func dequantQ8_0AVX2(dst *float32, src *byte, nb int)
TEXT ·dequantQ8_0AVX2(SB), NOSPLIT, $0-24
	ARGS
q80loop:
	SCALE1(0)
	VPMOVSXBD 2(SI), Y3
	VPMOVSXBD 10(SI), Y4
	VPMOVSXBD 18(SI), Y5
	VPMOVSXBD 26(SI), Y6
	STORE
	ADDQ $34, SI
	ADDQ $128, DI
	DECQ CX
	JNZ q80loop
	VZEROUPPER
	RET
