package verify

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
)

// A Golden is a forward pass written to a file: token ids, logits at every
// position, and (optionally) the residual stream after every block.
type Golden struct {
	IDs    []int
	Vocab  int
	Logits []float32   // [len(IDs), Vocab]
	Hidden [][]float32 // per block, [len(IDs), E]; may be empty
}

// ReadGolden reads a golden file, checking names, dtypes and shapes.
func ReadGolden(path string) (*Golden, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	bad := func(format string, args ...any) error {
		return formats.Errorf(formats.ErrFormat, path, "", -1, "golden file: "+format, args...)
	}
	ids, ok := f.Tensor("input_ids")
	if !ok || ids.DType != formats.I64 || len(ids.Shape) != 1 || ids.Shape[0] == 0 {
		return nil, bad("want input_ids I64 [T] with T > 0")
	}
	g := &Golden{}
	b, err := ids.Bytes()
	if err != nil {
		return nil, err
	}
	for i := 0; i < len(b); i += 8 {
		v := int64(binary.LittleEndian.Uint64(b[i:]))
		if v < 0 || v > math.MaxInt32 {
			return nil, bad("input_ids[%d] = %d", i/8, v)
		}
		g.IDs = append(g.IDs, int(v))
	}
	T := int64(len(g.IDs))
	lg, ok := f.Tensor("logits")
	if !ok || lg.DType != formats.F32 || len(lg.Shape) != 2 || lg.Shape[0] != T {
		return nil, bad("want logits F32 [%d, V]", T)
	}
	g.Vocab = int(lg.Shape[1])
	if g.Logits, err = lg.Float32s(); err != nil {
		return nil, err
	}
	for i := 0; ; i++ {
		h, ok := f.Tensor(fmt.Sprintf("hidden.%d", i))
		if !ok {
			break
		}
		if h.DType != formats.F32 || len(h.Shape) != 2 || h.Shape[0] != T {
			return nil, bad("hidden.%d: want F32 [%d, E]", i, T)
		}
		v, err := h.Float32s()
		if err != nil {
			return nil, err
		}
		g.Hidden = append(g.Hidden, v)
	}
	return g, nil
}

// WriteGolden writes g to path (safetensors; created whole, then renamed).
func WriteGolden(path string, g *Golden) error {
	T := int64(len(g.IDs))
	ids := make([]byte, 8*T)
	for i, v := range g.IDs {
		binary.LittleEndian.PutUint64(ids[8*i:], uint64(v))
	}
	f32 := func(name string, v []float32, cols int64) formats.Tensor {
		b := make([]byte, 4*len(v))
		formats.EncodeFloat32(b, v, formats.F32)
		return formats.NewTensorBytes(name, formats.F32, []int64{T, cols}, "", b)
	}
	ts := []formats.Tensor{
		formats.NewTensorBytes("input_ids", formats.I64, []int64{T}, "", ids),
		f32("logits", g.Logits, int64(g.Vocab)),
	}
	for i, h := range g.Hidden {
		ts = append(ts, f32(fmt.Sprintf("hidden.%d", i), h, int64(len(h))/T))
	}
	_, _, err := safetensors.WriteFile(path, ts, safetensors.WriteOptions{Metadata: map[string]string{"format": "sambay-golden"}})
	return err
}
