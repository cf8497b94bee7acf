//go:build !amd64 || noasm

package quant

func dotQ8Fast(w []byte, a *Q8Act, acc *[8]float32) int { return 0 }

func dotQ45KFast(w []byte, a *Q8KAct, acc, accm *[8]float32, five bool) bool { return false }

func dotQ6KFast(w []byte, a *Q8KAct, acc *[8]float32) bool { return false }

func dotQ4_0Fast(w []byte, a *Q8Act, acc *[8]float32) int { return 0 }

func dotQ5_0Fast(w []byte, a *Q8Act, acc *[8]float32) int { return 0 }

func dotQ2KFast(w []byte, a *Q8KAct, acc, accm *[8]float32) bool { return false }

func dotQ3KFast(w []byte, a *Q8KAct, acc *[8]float32) bool { return false }

func mlxBlocksFast(packed []byte, a *MLXAct, t []float32) int { return 0 }
