//go:build !amd64 || noasm

package kernel

// Dot returns Σ a[i]·b[i] (see dotGo for the order).
func Dot(a, b []float32) float32 { return dotGo(a, b) }

// DotBF16 returns Σ a[i]·w[i] for little-endian bf16 w (see dotBF16Go).
func DotBF16(a []float32, w []byte) float32 { return dotBF16Go(a, w) }

var useAVX2, useAVX512 = false, false // set by tests only where the assembly exists
