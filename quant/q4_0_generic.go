//go:build !amd64 || noasm

package quant

func q4_0Pack(out []byte, xb *[qk]float32, id float32) { q4_0PackGo(out, xb, id) }

func signedAbsMax(xb *[qk]float32) (float32, float32) { return signedAbsMaxGo(xb) }

func q8_0Pack(out []byte, xb *[qk]float32, id float32) { q8_0PackGo(out, xb, id) }
