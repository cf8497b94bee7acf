package mlxmodel

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"
	"github.com/sambay-conv/sambay-conv/quant"
)

// TestExportGeneric quantizes a checkpoint of no known architecture: the
// matrices whose width the group divides come out as mlx-lm's triples with
// exactly the codes, scales and biases of the MLX CPU kernel, everything
// else unchanged; a NaN is refused with its tensor and index.
func TestExportGeneric(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "in.safetensors")
	w1 := testmodel.F32Tensor("enc.w1.weight", []int64{4, 64}, func(i int) float32 { return float32(math.Sin(float64(i))) * 0.1 })
	w2 := testmodel.F32Tensor("enc.w2.weight", []int64{3, 40}, func(i int) float32 { return float32(i) })
	b := testmodel.F32Tensor("enc.bias", []int64{64}, func(i int) float32 { return 1 })
	if _, _, err := safetensors.WriteFile(src, []formats.Tensor{w1, w2, b}, safetensors.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "mlx")
	res, err := ExportGeneric(t.Context(), src, GenericOptions{Output: out, Bits: 4, GroupSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Modules) != 2 || !res.Modules[0].Quantized || res.Modules[1].Quantized {
		t.Fatalf("modules %+v", res.Modules)
	}
	st, err := safetensors.OpenModel(out)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	x, _ := w1.Float32s()
	wq, _ := st.Tensor("enc.w1.weight")
	sc, _ := st.Tensor("enc.w1.scales")
	bs, _ := st.Tensor("enc.w1.biases")
	packed, _ := wq.Bytes()
	scales, _ := sc.Float32s()
	biases, _ := bs.Float32s()
	if wq.DType != formats.U32 || sc.DType != formats.F32 || !formats.EqualShape(wq.Shape, []int64{4, 8}) || !formats.EqualShape(sc.Shape, []int64{4, 2}) {
		t.Fatalf("weight %v %v, scales %v %v", wq.DType, wq.Shape, sc.DType, sc.Shape)
	}
	for r := 0; r < 4; r++ {
		p := make([]byte, 32)
		s, bb := make([]float32, 2), make([]float32, 2)
		quant.MLXQuantizeRow(p, s, bb, x[r*64:(r+1)*64], 4, 32)
		if !bytes.Equal(p, packed[r*32:(r+1)*32]) || s[0] != scales[2*r] || s[1] != scales[2*r+1] || bb[0] != biases[2*r] || bb[1] != biases[2*r+1] {
			t.Errorf("row %d differs from the MLX kernel's output", r)
		}
	}
	for _, name := range []string{"enc.w2.weight", "enc.bias"} {
		got, ok := st.Tensor(name)
		orig := map[string]formats.Tensor{"enc.w2.weight": w2, "enc.bias": b}[name]
		gb, _ := got.Bytes()
		ob, _ := orig.Bytes()
		if !ok || got.DType != formats.F32 || !bytes.Equal(gb, ob) {
			t.Errorf("%s changed", name)
		}
	}
	if _, ok := st.Tensor("enc.w2.scales"); ok {
		t.Error("a matrix the group does not divide was quantized")
	}
	// NoStats writes the same tensors and leaves the NMSE out (0).
	if q := res.Modules[0].NMSE; !(q > 0 && q < 0.05) {
		t.Errorf("NMSE %v", q)
	}
	out2 := filepath.Join(dir, "mlx-nostats")
	res2, err := ExportGeneric(t.Context(), src, GenericOptions{Output: out2, Bits: 4, GroupSize: 32, NoStats: true})
	if err != nil {
		t.Fatal(err)
	}
	if res2.Modules[0].NMSE != 0 {
		t.Errorf("NoStats: NMSE %v", res2.Modules[0].NMSE)
	}
	a, _ := os.ReadFile(filepath.Join(out, "model.safetensors"))
	b2, _ := os.ReadFile(filepath.Join(out2, "model.safetensors"))
	if len(a) == 0 || !bytes.Equal(a, b2) {
		t.Errorf("NoStats changed the weights (%d and %d bytes)", len(a), len(b2))
	}

	nan := testmodel.F32Tensor("m.weight", []int64{2, 32}, func(i int) float32 {
		if i == 37 {
			return float32(math.NaN())
		}
		return 0.5
	})
	src2 := filepath.Join(dir, "nan.safetensors")
	if _, _, err := safetensors.WriteFile(src2, []formats.Tensor{nan}, safetensors.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	_, err = ExportGeneric(t.Context(), src2, GenericOptions{Output: filepath.Join(dir, "nan"), Bits: 4, GroupSize: 32})
	if err == nil || !strings.Contains(err.Error(), "m.weight") || !strings.Contains(err.Error(), "[1, 5]") {
		t.Errorf("NaN input: %v", err)
	}
}
