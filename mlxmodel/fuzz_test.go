package mlxmodel

import (
	"os"
	"testing"

	"github.com/sambay-conv/sambay-conv/quant"
)

// FuzzConfig parses arbitrary config.json bytes as an MLX folder's
// quantization settings: never a panic, and every module setting it hands
// out is one MLX has (or an error).
func FuzzConfig(f *testing.F) {
	f.Add([]byte(`{"quantization":{"group_size":64,"bits":4,"mode":"affine","model.layers.0.mlp.fc2":{"group_size":64,"bits":6},"lm_head":false}}`))
	f.Add([]byte(`{"quantization":{"bits":"4"}}`))
	f.Add([]byte(`{"quantization":null}`))
	if b, err := os.ReadFile("../testdata/phi4flash-tiny/hf/config.json"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		q, err := readQuantization(b, "config.json")
		if err != nil {
			return
		}
		for path := range q.modules {
			bits, group, err := q.module(path)
			if err == nil && quant.MLXCheck(bits, group) != nil {
				t.Fatalf("module %q: bits %d group %d accepted", path, bits, group)
			}
		}
	})
}
