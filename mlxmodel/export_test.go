package mlxmodel

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"
	"github.com/sambay-conv/sambay-conv/layout"
	"github.com/sambay-conv/sambay-conv/quant"
	"github.com/sambay-conv/sambay-conv/reference"
)

const src = "../testdata/phi4flash-tiny/hf"

func readConfig(t *testing.T, dir string) map[string]any {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func floats(t *testing.T, tn formats.Tensor) []float32 {
	t.Helper()
	v, err := tn.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// TestExportValues exports the tiny model at every bit width and checks
// every tensor of the output against the original: a quantized module's
// dequantized rows lie within what its bits allow (half a step, plus the
// rounding of scale and bias to the stored bf16), its NMSE is the one the
// export reported, and every other tensor holds the original values.
func TestExportValues(t *testing.T) {
	orig, err := convert.OpenCanonical(src)
	if err != nil {
		t.Fatal(err)
	}
	defer orig.Close()
	for _, bits := range []int{2, 3, 4, 5, 6, 8} {
		t.Run(fmt.Sprintf("bits=%d", bits), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "mlx")
			res, err := Export(t.Context(), src, Options{Output: out, Bits: bits, GroupSize: 32})
			if err != nil {
				t.Fatal(err)
			}
			q := readConfig(t, out)["quantization"].(map[string]any)
			if q["bits"] != float64(bits) || q["group_size"] != float64(32) || q["mode"] != "affine" {
				t.Errorf("config quantization %v", q)
			}
			st, err := safetensors.OpenModel(out)
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			reported := map[string]Module{}
			for _, m := range res.Modules {
				reported[m.Path] = m
			}
			nQuant := 0
			for _, s := range orig.Config.Tensors() {
				ot, _ := orig.Model.Tensor(s.Name)
				x := floats(t, ot)
				mod := layout.Module(s.Name)
				if s.Kind.MLX && s.Shape[1]%32 == 0 {
					nQuant++
					checkModule(t, st, mod, x, int(s.Shape[0]), int(s.Shape[1]), bits, reported[mod])
					continue
				}
				got, ok := st.Tensor(s.Name)
				if !ok {
					t.Errorf("%s missing", s.Name)
					continue
				}
				if _, has := st.Tensor(mod + ".scales"); has && s.Kind.MLX {
					t.Errorf("%s: kept float but has scales", s.Name)
				}
				wantShape := s.Shape
				if s.Kind.InMLX == layout.MLXConv {
					wantShape = []int64{s.Shape[0], s.Shape[2], 1}
				}
				if !formats.EqualShape(got.Shape, wantShape) || (s.KeepF32 && got.DType != formats.F32) {
					t.Errorf("%s: %v %s, want shape %s (F32: %v)", s.Name, got.DType, formats.ShapeString(got.Shape), formats.ShapeString(wantShape), s.KeepF32)
				}
				g := floats(t, got)
				for i := range x {
					if g[i] != x[i] {
						t.Errorf("%s: element %d = %v, original %v", s.Name, i, g[i], x[i])
						break
					}
				}
			}
			if nQuant == 0 || nQuant != len(res.Modules)-countFloat(res.Modules) {
				t.Errorf("%d quantized modules checked, the export reports %d", nQuant, len(res.Modules)-countFloat(res.Modules))
			}
		})
	}
}

func countFloat(ms []Module) int {
	n := 0
	for _, m := range ms {
		if !m.Quantized {
			n++
		}
	}
	return n
}

// checkModule dequantizes module mod of the output and compares it with
// the original rows x ([out, in]).
func checkModule(t *testing.T, st *safetensors.Model, mod string, x []float32, out, in, bits int, rep Module) {
	t.Helper()
	w, ok1 := st.Tensor(mod + ".weight")
	sc, ok2 := st.Tensor(mod + ".scales")
	bs, ok3 := st.Tensor(mod + ".biases")
	if !ok1 || !ok2 || !ok3 {
		t.Fatalf("%s: weight/scales/biases missing", mod)
	}
	if w.DType != formats.U32 || !formats.EqualShape(w.Shape, []int64{int64(out), int64(in * bits / 32)}) ||
		sc.DType != formats.BF16 || !formats.EqualShape(sc.Shape, []int64{int64(out), int64(in / 32)}) || !formats.EqualShape(bs.Shape, sc.Shape) {
		t.Fatalf("%s: weight %v %v, scales %v %v, biases %v", mod, w.DType, w.Shape, sc.DType, sc.Shape, bs.Shape)
	}
	packed, _ := w.Bytes()
	scales, biases := floats(t, sc), floats(t, bs)
	ng, pb := in/32, in*bits/8
	back := make([]float32, in)
	var acc quant.ErrSums
	nBins := float64(int(1)<<bits - 1)
	for r := 0; r < out; r++ {
		s, b := scales[r*ng:(r+1)*ng], biases[r*ng:(r+1)*ng]
		quant.MLXDequantizeRow(back, packed[r*pb:(r+1)*pb], s, b, bits, 32)
		xr := x[r*in : (r+1)*in]
		for i, v := range xr {
			g := i / 32
			step := math.Abs(float64(s[g]))
			// What rounding scale and bias to bf16 (relative 2^−9, taken as 2^−8) moves a code's value.
			stored := (nBins*step+math.Abs(float64(b[g])))*0x1p-8 + 1e-7
			d := math.Abs(float64(back[i]) - float64(v))
			if d <= 0.5*step+stored {
				continue // within half a step
			}
			// MLX makes the group's larger-magnitude end exact (code 0 = bias; scale =
			// edge/round(edge/scale)), which can push values near the opposite end past
			// the last code: those are clipped to it, by up to one step (1 + 1/nBins of
			// the stored one).
			far := float32(s[g]*float32(nBins)) + b[g]
			if back[i] != far || d > step*(1+1/nBins)+stored {
				t.Fatalf("%s row %d element %d: %v dequantizes to %v (error %.3g, step %.3g, last code's value %v)", mod, r, i, v, back[i], d, step, far)
			}
		}
		acc.AddRow(xr, back)
	}
	if got := acc.NMSE(); !rep.Quantized || rep.Bits != bits || math.Abs(got-rep.NMSE) > 1e-9*got {
		t.Errorf("%s: recomputed NMSE %.6g, export reported %+v", mod, got, rep)
	}
}

// TestMixed46Recipe checks mlx-lm's mixed_4_6 recipe on the 8-layer tiny
// model, by hand: 6 bits for the embedding (tied: no head), the
// self-attention Wqkv of layers 1, 3 and 5 (SWA, SWA, full KV), and fc2 of
// the layers use_more_bits picks for 8 layers (0, 3, 6 and 7); 4 bits for
// every other quantizable module; the 6-bit ones listed in config.json.
func TestMixed46Recipe(t *testing.T) {
	out := filepath.Join(t.TempDir(), "mlx")
	res, err := Export(t.Context(), src, Options{Output: out, Recipe: "mixed_4_6", GroupSize: 32})
	if err != nil {
		t.Fatal(err)
	}
	six := map[string]bool{"model.embed_tokens": true,
		"model.layers.1.attn.Wqkv": true, "model.layers.3.attn.Wqkv": true, "model.layers.5.attn.Wqkv": true,
		"model.layers.0.mlp.fc2": true, "model.layers.3.mlp.fc2": true, "model.layers.6.mlp.fc2": true, "model.layers.7.mlp.fc2": true}
	q := readConfig(t, out)["quantization"].(map[string]any)
	if q["bits"] != float64(4) {
		t.Errorf("default bits %v, want 4", q["bits"])
	}
	st, err := safetensors.OpenModel(out)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	n6 := 0
	for _, m := range res.Modules {
		if !m.Quantized {
			continue
		}
		want := 4
		if six[m.Path] {
			want, n6 = 6, n6+1
			o, _ := q[m.Path].(map[string]any)
			if o["bits"] != float64(6) || o["group_size"] != float64(32) {
				t.Errorf("%s: config override %v, want bits 6 group 32", m.Path, q[m.Path])
			}
		} else if _, ok := q[m.Path]; ok {
			t.Errorf("%s: unexpected config override %v", m.Path, q[m.Path])
		}
		w, _ := st.Tensor(m.Path + ".weight")
		if m.Bits != want || w.Shape[1]*32 != int64(want)*int64(inOf(t, m.Path)) {
			t.Errorf("%s: %d bits, weight %v; want %d bits", m.Path, m.Bits, w.Shape, want)
		}
	}
	if n6 != len(six) {
		t.Errorf("%d modules at 6 bits, want %d", n6, len(six))
	}
	if _, err := Export(t.Context(), src, Options{Output: filepath.Join(t.TempDir(), "x"), Recipe: "mixed_3_5"}); err == nil {
		t.Error("unknown recipe accepted")
	}
}

func inOf(t *testing.T, mod string) int {
	c, err := convert.OpenCanonical(src)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	tn, _ := c.Model.Tensor(mod + ".weight")
	return int(tn.Shape[1])
}

// TestLoadRoundTrip loads an export for the forward pass and checks that
// every quantized row decodes to what the stored tensors say.
func TestLoadRoundTrip(t *testing.T) {
	out := filepath.Join(t.TempDir(), "mlx")
	if _, err := Export(t.Context(), src, Options{Output: out, Bits: 4, GroupSize: 32}); err != nil {
		t.Fatal(err)
	}
	st, err := safetensors.OpenModel(out)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	mods, err := QuantizedModules(out, st)
	if err != nil || len(mods) == 0 {
		t.Fatalf("%d modules, %v", len(mods), err)
	}
	for _, m := range mods {
		sc, _ := st.Tensor(m.Path + ".scales")
		bs, _ := st.Tensor(m.Path + ".biases")
		w, _ := st.Tensor(m.Path + ".weight")
		packed, _ := w.Bytes()
		s, b := floats(t, sc), floats(t, bs)
		got, want := make([]float32, m.In), make([]float32, m.In)
		ng, pb := m.In/m.Group, m.In*m.Bits/8
		for r := 0; r < m.Out; r++ {
			m.Rows.DecodeRow(r, got)
			quant.MLXDequantizeRow(want, packed[r*pb:(r+1)*pb], s[r*ng:(r+1)*ng], b[r*ng:(r+1)*ng], m.Bits, m.Group)
			if !bytes.Equal(f32bytes(got), f32bytes(want)) {
				t.Fatalf("%s row %d decodes differently", m.Path, r)
			}
		}
		if m.BitsPerWeight() != 4+2*16.0/32 {
			t.Errorf("%s: %v bits per weight", m.Path, m.BitsPerWeight())
		}
	}
	mm, f, err := Load(out, referenceOptions())
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if mm.Cfg.NLayer != 8 {
		t.Errorf("loaded %d layers", mm.Cfg.NLayer)
	}
}

func f32bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	formats.EncodeFloat32(b, v, formats.F32)
	return b
}

func referenceOptions() reference.Options { return reference.Options{} }

// TestConfigLies: a config.json whose group size disagrees with the stored
// scales used to panic inside the dequantizer; now Load names the module.
func TestConfigLies(t *testing.T) {
	out := filepath.Join(t.TempDir(), "mlx")
	if _, err := Export(t.Context(), src, Options{Output: out, Bits: 4, GroupSize: 32}); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(out, "config.json")
	b, _ := os.ReadFile(p)
	os.WriteFile(p, bytes.ReplaceAll(b, []byte(`"group_size": 32`), []byte(`"group_size": 64`)), 0o644)
	_, _, err := Load(out, referenceOptions())
	if err == nil || !strings.Contains(err.Error(), "module ") || !strings.Contains(err.Error(), "scales") {
		t.Errorf("group size lie: %v", err)
	}
	os.WriteFile(p, bytes.ReplaceAll(b, []byte(`"bits": 4`), []byte(`"bits": 7`)), 0o644)
	if _, _, err := Load(out, referenceOptions()); err == nil || !strings.Contains(err.Error(), "bits 7") {
		t.Errorf("bits lie: %v", err)
	}
}

// countingReader counts the bytes read of each tensor.
type countingReader struct {
	t    formats.Tensor
	mu   *sync.Mutex
	read map[string]int64
}

func (c countingReader) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.t.ReadAt(p, off)
	c.mu.Lock()
	c.read[c.t.Name] += int64(n)
	c.mu.Unlock()
	return n, err
}

// TestSourceReads: ExportFrom reads each source tensor exactly once (a
// quantized module's three tensors share one read of each row; a batch
// job's shared reader keeps a block until every export has read it once).
func TestSourceReads(t *testing.T) {
	for _, o := range []Options{{Bits: 4, GroupSize: 64}, {Recipe: "mixed_4_6", GroupSize: 32}, {Bits: 8, GroupSize: 128}} {
		cm, err := convert.OpenCanonical(filepath.Join("..", "testdata", "sambay-tiny", "hf"))
		if err != nil {
			t.Fatal(err)
		}
		var mu sync.Mutex
		read := map[string]int64{}
		cm.View = func(t formats.Tensor) formats.Tensor {
			return formats.NewTensor(t.Name, t.DType, t.Shape, t.File, countingReader{t, &mu, read})
		}
		o.Output = filepath.Join(t.TempDir(), "mlx")
		if _, err := ExportFrom(context.Background(), cm, o); err != nil {
			t.Fatal(err)
		}
		specs := cm.Config.Tensors()
		for _, s := range specs {
			src, _ := cm.Model.Tensor(s.Name)
			if read[s.Name] != src.Size() {
				t.Errorf("%+v: %s read %d bytes, want its %d once", o, s.Name, read[s.Name], src.Size())
			}
		}
		if len(read) != len(specs) {
			t.Errorf("%+v: %d tensors read, %d expected", o, len(read), len(specs))
		}
		cm.Close()
	}
}

// TestQuantRowsAnyOrder reads a module's three tensors in every order, in
// chunks that split rows, some ranges twice, from several goroutines: each
// gives the bytes of a plain per-row quantization, and the error sums count
// every row once whatever the order.
func TestQuantRowsAnyOrder(t *testing.T) {
	const out, in, bits, group = 37, 128, 4, 32
	x := make([]float32, out*in)
	for i := range x {
		x[i] = float32(math.Sin(float64(i)*0.37)) * float32(1+i%7)
	}
	raw := make([]byte, 2*len(x))
	formats.EncodeFloat32(raw, x, formats.BF16)
	src := formats.NewTensorBytes("m.weight", formats.BF16, []int64{out, in}, "mem", raw)
	// The expected bytes: each row decoded and quantized on its own.
	var want [3][]byte
	for r := range out {
		row := make([]float32, in)
		formats.DecodeFloat32(row, raw[2*r*in:2*(r+1)*in], formats.BF16)
		packed := make([]byte, in*bits/8)
		sc, bs := make([]float32, in/group), make([]float32, in/group)
		quant.MLXQuantizeRow(packed, sc, bs, row, bits, group)
		want[0] = append(want[0], packed...)
		for i, v := range [][]float32{sc, bs} {
			b := make([]byte, 2*len(v))
			formats.EncodeFloat32(b, v, formats.BF16)
			want[1+i] = append(want[1+i], b...)
		}
	}
	for _, order := range [][3]int{{0, 1, 2}, {1, 2, 0}, {2, 0, 1}, {1, 0, 2}} {
		for _, chunk := range []int{7, 64, 1 << 20} {
			var stats quant.ErrStats
			ts := mlxQuantized(src, "m", []int64{out, in}, bits, group, &stats)
			var wg sync.WaitGroup
			for k, part := range order {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if k == 1 {
						time.Sleep(time.Millisecond) // let the first run ahead
					}
					got := make([]byte, ts[part].Size())
					for off := 0; off < len(got); off += chunk {
						end := min(off+chunk, len(got))
						if _, err := ts[part].ReadAt(got[off:end], int64(off)); err != nil {
							t.Error(err)
							return
						}
					}
					// Read the first rows again: kept or recomputed, same bytes.
					again := make([]byte, min(len(got), 3*chunk))
					ts[part].ReadAt(again, 0)
					if !bytes.Equal(got, want[part]) || !bytes.Equal(again, want[part][:len(again)]) {
						t.Errorf("order %v, chunk %d: part %d differs", order, chunk, part)
					}
				}()
			}
			wg.Wait()
			var plain quant.ErrStats
			mlxQuantized(src, "p", []int64{out, in}, bits, group, &plain)[0].ReadAt(make([]byte, ts[0].Size()), 0)
			if n := stats.NMSE(); !(n > 0) || math.Abs(n-plain.NMSE()) > 1e-9*plain.NMSE() {
				t.Errorf("order %v, chunk %d: NMSE %g, one pass %g", order, chunk, n, plain.NMSE())
			}
		}
	}
}

// TestActivationPath: 4- and 8-bit MLX matrices multiply through a
// Q8_0-quantized activation by default and by widened rows with ExactDot.
// The two differ, by a rounding of the size of the weights' own: at most
// twice the exact path's distance from the original (a wrong scale, bias,
// nibble order or block would be far beyond). On the tiny test model, E = 32.
func TestActivationPath(t *testing.T) {
	c, err := convert.OpenCanonical(src)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m0, err := reference.Load(c.Config, c.Tensor, reference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens := []int{5, 42, 7, 99, 3, 17, 64, 88, 1, 8, 33, 77}
	run := func(m *reference.Model) []float32 {
		r, err := m.Run(m.NewState(), tokens, reference.Want{AllLogits: true})
		if err != nil {
			t.Fatal(err)
		}
		return r.Logits
	}
	orig := run(m0)
	const group = 32
	for _, bits := range []int{4, 8} {
		{
			out := filepath.Join(t.TempDir(), "mlx")
			if _, err := Export(t.Context(), src, Options{Output: out, Bits: bits, GroupSize: group}); err != nil {
				t.Fatal(err)
			}
			logits := func(exact bool) []float32 {
				m, f, err := Load(out, reference.Options{ExactDot: exact})
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				return run(m)
			}
			fast, exact := logits(false), logits(true)
			dq, _ := testmodel.MaxDiff(exact, orig)
			da, differ := testmodel.MaxDiff(fast, exact)
			t.Logf("%d bits, group %d: %d of %d logits differ; max |Δ| activation path vs exact %.3g, exact vs original %.3g", bits, group, differ, len(fast), da, dq)
			if differ == 0 {
				t.Errorf("%d bits: the activation path gave the exact path's logits bit for bit: it was not used", bits)
			}
			if da > 2*dq {
				t.Errorf("%d bits, group %d: max |Δlogit| activation path vs exact %.4g; exact vs original %.4g", bits, group, da, dq)
			}
		}
	}
}
