//go:build !amd64 || noasm

package quant

import "github.com/sambay-conv/sambay-conv/ggml"

func q4_0Pack(out []byte, xb *[qk]float32, id float32) { q4_0PackGo(out, xb, id) }

func signedAbsMax(xb *[qk]float32) (float32, float32) { return signedAbsMaxGo(xb) }

func q8_0Pack(out []byte, xb *[qk]float32, id float32) { q8_0PackGo(out, xb, id) }

func minMaxBlock(xb *[qk]float32) (float32, float32) { return minMax(xb[:]) }

func affinePack(out []byte, xb *[qk]float32, mn, id, add float32, clamp int32) uint32 {
	return affinePackGo(out, xb, mn, id, add, clamp)
}

func q5_0Pack(out []byte, xb *[qk]float32, id float32) uint32 { return q5_0PackGo(out, xb, id) }

func plainKernels() (restore func()) { return func() {} }

func errSums16Fast(x, q []float32, se, sx *[16]float64) int { return 0 }

func nonFiniteFast(x []float32) (bool, int) { return false, 0 }

func avx2Only() (restore func()) { return func() {} }

func dequantLegacyFast(t ggml.Type, dst []float32, src []byte) bool { return false }

func affineRun(dst []byte, x []float32, levels float32, clamp int32, bs int) int { return 0 }

func absMaxQ8(xb *[qk]float32) float32 { return absMaxFold(xb) }

func symmetricRun(dst []byte, x []float32, bs int) int { return 0 }
