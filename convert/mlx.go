package convert

import (
	"os"
	"path/filepath"

	"github.com/sambay-conv/sambay-conv/reference"
)

// isMLX reports whether path is an MLX model folder (config.json with a
// "quantization" key or {"format":"mlx"} shards).
func isMLX(path string) bool {
	b, err := os.ReadFile(filepath.Join(path, "config.json"))
	return err == nil && containsKey(b, `"quantization"`)
}

func containsKey(b []byte, k string) bool {
	for i := 0; i+len(k) <= len(b); i++ {
		if string(b[i:i+len(k)]) == k {
			return true
		}
	}
	return false
}

// LoadMLX opens an MLX affine-quantized model folder for the forward pass.
func LoadMLX(path string, opts reference.Options) (*LoadedModel, error) {
	return loadMLX(path, opts)
}
