// Package quant implements ggml's block quantizers and dequantizers as
// bit-exact ports of the reference row functions of ggml src/ggml-quants.c
// at ggml d99724f (the algorithms llama-quantize uses without an importance
// matrix): Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, plus
// F16 and BF16 (round to nearest even). The ggml type facts live in one
// table indexed by type id.
//
// Exactness rests on three rounding rules (roundf, truncation of a float32
// sum, and round-half-to-even through nearest_int) and on never letting Go
// fuse a multiply-add: every product that feeds an addition is converted to
// float32 explicitly, and every such line says so once per function. Tests
// check FNV-1a-64 hashes of ggml's own output on a 4096×4096 tensor.
//
// Rows are independent; Quantize splits a matrix's rows among goroutines
// and its output does not depend on their number.
//
// Speed without changing a bit: on amd64 with AVX2, the legacy types'
// per-block code computation is assembly (eight elements at a time, the
// same IEEE float32 operation per element), and the K-quants' scale
// searches (make_qkx2_quants, make_q3_quants, make_qx_quants), which ggml
// runs one sub-block at a time as chains of dependent float32 additions,
// run eight sub-blocks side by side, one per lane of an AVX2 register
// (kquant_lanes.go): every lane performs ggml's operations in ggml's order
// on its own sub-block, and where ggml branches, a lane blends. Every
// kernel has a plain Go twin (the noasm build tag selects the twins), and
// tests compare kernel, twin and ggml's loop as written bit for bit.
package quant
