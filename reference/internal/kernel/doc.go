// Package kernel holds the numeric kernels of the reference forward pass:
// matrix products over rows stored as bf16, f16 or f32 (widened on the fly,
// never copied as a whole), dot products, and their plain twins. It imports
// nothing from the project. Callers check shapes once; kernels assume them.
//
// Summation order is fixed (32 interleaved fp32 accumulators, combined in a
// fixed tree) and the same on every path — dot products for decoding, the
// blocked GEMM for prefill (docs/DESIGN.md §Matrix products) — and
// independent of the number of goroutines, so results are deterministic. Products are rounded to float32 before they are added
// (float32(a*b)): Go may fuse a*b+c into an FMA otherwise, which would make
// results depend on the platform.
package kernel
