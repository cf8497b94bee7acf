package quant

// What the K-quants' scale searches share (ggml-quants.c 620–878); the
// searches themselves run eight sub-blocks at a time (kquant_lanes.go), and
// ggml's loops as written are in kquant_ref_test.go, the reference the
// tests hold them to.
// Products that feed additions are rounded with float32(...) so gc cannot
// fuse them (Go spec, "Floating-point operators"); sums run left to right.

// groupMaxEps is GROUP_MAX_EPS (ggml-quants.c 20).
const groupMaxEps = 1e-15

// maxMagnitude returns the largest |x_i| and the element attaining it first
// (ggml's strict comparison: the first occurrence wins, the sign is kept);
// both are 0 when every element is ±0.
func maxMagnitude(x []float32) (amax, vmax float32) {
	for _, v := range x {
		if a := abs32(v); a > amax {
			amax, vmax = a, v
		}
	}
	return amax, vmax
}
