//go:build !amd64 || noasm

package quant

func dotQ8Fast(w []byte, a *Q8Act, acc *[8]float32) int { return 0 }
