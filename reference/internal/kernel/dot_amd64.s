//go:build amd64 && !noasm

#include "textflag.h"

// func dotBF16x32(a *float32, w *uint16, n int, acc *[32]float32)
// Lane k of the accumulators (Y0–Y3, lanes 0–7, 8–15, 16–23, 24–31) sums
// a[i]*w[i] over i ≡ k (mod 32), products rounded to float32 before the
// add (VMULPS then VADDPS, no FMA): the same arithmetic, in the same order,
// as the 32 accumulators of dotBF16Go. Four independent chains keep the
// adds from waiting on each other.
TEXT ·dotBF16x32(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ acc+24(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	SHRQ $5, CX
	JZ   done
loop:
	VPMOVZXWD 0(DI), Y4
	VPMOVZXWD 16(DI), Y5
	VPMOVZXWD 32(DI), Y6
	VPMOVZXWD 48(DI), Y7
	VPSLLD    $16, Y4, Y4
	VPSLLD    $16, Y5, Y5
	VPSLLD    $16, Y6, Y6
	VPSLLD    $16, Y7, Y7
	VMULPS    0(SI), Y4, Y4
	VMULPS    32(SI), Y5, Y5
	VMULPS    64(SI), Y6, Y6
	VMULPS    96(SI), Y7, Y7
	VADDPS    Y4, Y0, Y0
	VADDPS    Y5, Y1, Y1
	VADDPS    Y6, Y2, Y2
	VADDPS    Y7, Y3, Y3
	ADDQ      $128, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       loop
done:
	VMOVUPS Y0, 0(DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VZEROUPPER
	RET

// func dotF32x32(a, b *float32, n int, acc *[32]float32)
// dotBF16x32 for float32 b (dotGo's order).
TEXT ·dotF32x32(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ b+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ acc+24(FP), DX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	SHRQ $5, CX
	JZ   fdone
floop:
	VMOVUPS 0(DI), Y4
	VMOVUPS 32(DI), Y5
	VMOVUPS 64(DI), Y6
	VMOVUPS 96(DI), Y7
	VMULPS  0(SI), Y4, Y4
	VMULPS  32(SI), Y5, Y5
	VMULPS  64(SI), Y6, Y6
	VMULPS  96(SI), Y7, Y7
	VADDPS  Y4, Y0, Y0
	VADDPS  Y5, Y1, Y1
	VADDPS  Y6, Y2, Y2
	VADDPS  Y7, Y3, Y3
	ADDQ    $128, SI
	ADDQ    $128, DI
	DECQ    CX
	JNZ     floop
fdone:
	VMOVUPS Y0, 0(DX)
	VMOVUPS Y1, 32(DX)
	VMOVUPS Y2, 64(DX)
	VMOVUPS Y3, 96(DX)
	VZEROUPPER
	RET

// func dotBF16x32z(a *float32, w *uint16, n int, acc *[32]float32)
// dotBF16x32 with AVX-512: lanes 0–15 in Z0, 16–31 in Z1, the same
// products and adds in the same order, half the instructions per element
// (decoding reads the weights at memory speed only if the core keeps up).
TEXT ·dotBF16x32z(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), SI
	MOVQ w+8(FP), DI
	MOVQ n+16(FP), CX
	MOVQ acc+24(FP), DX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	SHRQ $5, CX
	JZ   zdone
zloop:
	VPMOVZXWD 0(DI), Z4
	VPMOVZXWD 32(DI), Z5
	VPSLLD    $16, Z4, Z4
	VPSLLD    $16, Z5, Z5
	VMULPS    0(SI), Z4, Z4
	VMULPS    64(SI), Z5, Z5
	VADDPS    Z4, Z0, Z0
	VADDPS    Z5, Z1, Z1
	ADDQ      $128, SI
	ADDQ      $64, DI
	DECQ      CX
	JNZ       zloop
zdone:
	VMOVUPS Z0, 0(DX)
	VMOVUPS Z1, 64(DX)
	VZEROUPPER
	RET
