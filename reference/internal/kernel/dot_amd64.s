//go:build amd64 && !noasm

#include "textflag.h"

// func dotBF16x8(a *float32, w *uint16, n int, acc *[8]float32)
// Lane k of the accumulator sums a[i]*w[i] over i ≡ k (mod 8), products
// rounded to float32 before the add (VMULPS then VADDPS, no FMA): the same
// arithmetic, in the same order, as the eight accumulators of dotBF16Go.
TEXT ·dotBF16x8(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ acc+24(FP), DX
	VXORPS Y0, Y0, Y0
	SHRQ $3, CX
	JZ   done
loop:
	VPMOVZXWD (DI), Y1
	VPSLLD    $16, Y1, Y1
	VMULPS    (SI), Y1, Y2
	VADDPS    Y2, Y0, Y0
	ADDQ      $32, SI
	ADDQ      $16, DI
	DECQ      CX
	JNZ       loop
done:
	VMOVUPS Y0, (DX)
	VZEROUPPER
	RET

// func dotF32x8(a, b *float32, n int, acc *[8]float32)
TEXT ·dotF32x8(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ acc+24(FP), DX
	VXORPS Y0, Y0, Y0
	SHRQ $3, CX
	JZ   fdone
floop:
	VMOVUPS (DI), Y1
	VMULPS  (SI), Y1, Y2
	VADDPS  Y2, Y0, Y0
	ADDQ    $32, SI
	ADDQ    $32, DI
	DECQ    CX
	JNZ     floop
fdone:
	VMOVUPS Y0, (DX)
	VZEROUPPER
	RET
