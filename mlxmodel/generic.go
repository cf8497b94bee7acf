package mlxmodel

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
	"github.com/sambay-conv/sambay-conv/internal/sidefile"
	"github.com/sambay-conv/sambay-conv/quant"
)

// GenericOptions control ExportGeneric.
type GenericOptions struct {
	Output    string
	Bits      int // 2, 3, 4, 5, 6, 8 (default 4)
	GroupSize int // 32, 64 (default), 128
	Force     bool
	NoStats   bool // skip each module's NMSE (as Options.NoStats)
	Progress  func(done, total int64)
}

// ExportGeneric quantizes any safetensors checkpoint (a file or a folder),
// whatever its architecture, to an MLX folder as mlx-lm lays one out: every
// float matrix "X.weight" whose input width (last dimension) the group size
// divides becomes "X.weight" (U32 codes), "X.scales" and "X.biases" (in the
// weight's dtype); every other tensor is kept as it is. The codes are MLX's
// CPU kernel's for finite input; a NaN or infinity is refused with the
// tensor and its index. config.json (the source's, when the folder has one)
// gets the "quantization" key.
func ExportGeneric(ctx context.Context, src string, opts GenericOptions) (*Result, error) {
	o := Options{Output: opts.Output, Bits: opts.Bits, GroupSize: opts.GroupSize, NoStats: opts.NoStats}
	if err := o.check(); err != nil {
		return nil, err
	}
	st, err := safetensors.OpenModelWith(src, safetensors.OpenOptions{NoMmap: true})
	if err != nil {
		return nil, err
	}
	defer st.Close()
	res := &Result{Bits: o.Bits, GroupSize: o.GroupSize}
	var out []formats.Tensor
	for _, t := range st.Tensors {
		path, isWeight := strings.CutSuffix(t.Name, ".weight")
		if isWeight && len(t.Shape) == 2 && t.DType.IsFloat() {
			mod := Module{Path: path}
			if !o.NoStats {
				mod.stats = &quant.ErrStats{}
			}
			if in := t.Shape[1]; in%int64(o.GroupSize) != 0 {
				mod.Why = fmt.Sprintf("in = %d is not a multiple of the group size %d: kept float", in, o.GroupSize)
			} else {
				mod.Quantized, mod.Bits = true, o.Bits
				out = append(out, mlxQuantized(t, path, t.Shape, o.Bits, o.GroupSize, mod.stats)...)
				res.Modules = append(res.Modules, mod)
				res.Params += t.NumElements()
				continue
			}
			res.Modules = append(res.Modules, mod)
		}
		out = append(out, t)
		res.Params += t.NumElements()
	}
	err = writeFolder(ctx, o.Output, opts.Force, out, res, opts.Progress, func(dir string) error {
		conf := map[string]any{}
		if fi, err := os.Stat(src); err == nil && fi.IsDir() {
			b, err := sidefile.Read(src, "config.json")
			if err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
			if b != nil {
				if err := json.Unmarshal(b, &conf); err != nil {
					return fmt.Errorf("%s: %w", filepath.Join(src, "config.json"), err)
				}
			}
		}
		q := map[string]any{"group_size": o.GroupSize, "bits": o.Bits, "mode": "affine"}
		conf["quantization"], conf["quantization_config"] = q, q
		cj, err := json.MarshalIndent(conf, "", "    ")
		if err != nil {
			return err
		}
		return atomicfile.WriteFileSync(filepath.Join(dir, "config.json"), append(cj, '\n'))
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}
