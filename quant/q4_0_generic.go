//go:build !amd64 || noasm

package quant

func q4_0Pack(out []byte, xb *[qk]float32, id float32) { q4_0PackGo(out, xb, id) }

func signedAbsMax(xb *[qk]float32) (float32, float32) { return signedAbsMaxGo(xb) }

func q8_0Pack(out []byte, xb *[qk]float32, id float32) { q8_0PackGo(out, xb, id) }

func minMaxBlock(xb *[qk]float32) (float32, float32) { return minMax(xb[:]) }

func affinePack(out []byte, xb *[qk]float32, mn, id float32, clamp int32) uint32 {
	return affinePackGo(out, xb, mn, id, clamp)
}

func plainKernels() (restore func()) { return func() {} }
