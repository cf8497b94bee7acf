package model

import (
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/mlxmodel"
	"github.com/sambay-conv/sambay-conv/reference"
)

const td = "../testdata"

func write(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestSniff tells every input kind apart by content, whatever its name.
func TestSniff(t *testing.T) {
	dir := t.TempDir()
	gg := filepath.Join(dir, "model.bin") // a GGUF file under a misleading name
	if _, err := ggufmodel.Export(t.Context(), filepath.Join(td, "sambay-tiny", "hf"), ggufmodel.Options{Output: gg, Policy: "f32"}); err != nil {
		t.Fatal(err)
	}
	mlx := filepath.Join(dir, "mlx")
	if _, err := mlxmodel.Export(t.Context(), filepath.Join(td, "sambay-tiny", "hf"), mlxmodel.Options{Output: mlx, Bits: 4, GroupSize: 32}); err != nil {
		t.Fatal(err)
	}
	st := make([]byte, 8, 16)
	binary.LittleEndian.PutUint64(st, 2)
	st = append(st, "{}"...)
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	badJSON := filepath.Join(dir, "badjson")
	os.Mkdir(badJSON, 0o755)
	write(t, badJSON, "config.json", []byte("{not json"))
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		path string
		want Kind
		err  bool
	}{
		{gg, KindGGUF, false},
		{mlx, KindMLX, false},
		{filepath.Join(td, "sambay-tiny", "hf"), KindFolder, false},
		{filepath.Join(td, "sambay-tiny", "archscale-head.pth"), KindTorchZip, false},
		{filepath.Join(td, "sambay-tiny", "hf", "model.safetensors"), KindSafetensors, false},
		{write(t, dir, "x.safetensors", st), KindSafetensors, false},
		{write(t, dir, "legacy.pt", []byte{0x80, 0x02, 0x8a, 0x0a}), KindTorchLegacy, false},
		{write(t, dir, "notes.gguf", []byte("hello, world")), KindOther, false},
		{write(t, dir, "short", []byte("G")), KindOther, false},
		{empty, KindOther, false},
		{badJSON, KindOther, true},
		{fifo, KindOther, true},
		{filepath.Join(dir, "missing"), KindOther, true},
	} {
		got, err := Sniff(c.path)
		if got != c.want || (err != nil) != c.err {
			t.Errorf("Sniff(%s) = %s, %v; want %s (error %v)", filepath.Base(c.path), got, err, c.want, c.err)
		}
	}
	if _, err := Open(filepath.Join(td, "sambay-tiny", "archscale-head.pth"), reference.Options{}); err == nil || !strings.Contains(err.Error(), "torch.save checkpoint") {
		t.Errorf("Open of a .pth: %v", err)
	}
}

// TestGGUFTypeOutsideQuant writes a SambaY GGUF whose ffn_up matrices are
// IQ4_NL, a ggml type this tool cannot dequantize: inspect names the type
// (it printed "Type(20)" when the GGUF and quant tables disagreed) and the
// forward pass refuses it with the tensor and the type.
func TestGGUFTypeOutsideQuant(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "f32.gguf")
	if _, err := ggufmodel.Export(t.Context(), filepath.Join(td, "sambay-tiny", "hf"), ggufmodel.Options{Output: src, Policy: "f32"}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var srcs []gguf.Source
	n := 0
	for i := range f.Tensors {
		ti := f.Tensors[i]
		data, err := f.Data(&ti)
		if err != nil {
			t.Fatal(err)
		}
		info := gguf.TensorInfo{Name: ti.Name, Dims: ti.Dims, Type: ti.Type}
		if strings.HasSuffix(ti.Name, "ffn_up.weight") {
			info.Type, n = ggml.TypeIQ4_NL, n+1
			data = nil // zero blocks
		}
		rowBytes := int(info.Type.RowBytes(int(info.Dims[0])))
		srcs = append(srcs, gguf.Source{Info: info, EncodeRows: func(dst []byte, first, rows int) error {
			if data != nil {
				copy(dst, data[first*rowBytes:(first+rows)*rowBytes])
			}
			return nil
		}})
	}
	out := filepath.Join(dir, "iq4.gguf")
	if _, err := gguf.WriteFile(out, f.KV, srcs, gguf.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := Inspect(out, convert.ConfigOptions{}, convert.SourceOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if r.DTypes["IQ4_NL"].Tensors != n || n == 0 {
		t.Errorf("inspect dtypes %v, want %d IQ4_NL tensors", r.DTypes, n)
	}
	if !strings.Contains(r.ConfigError, "blk.0.ffn_up.weight") || !strings.Contains(r.ConfigError, "IQ4_NL") {
		t.Errorf("inspect: config error %q, want the tensor and its type named", r.ConfigError)
	}
	_, err = Open(out, reference.Options{})
	if err == nil || !strings.Contains(err.Error(), "cannot be dequantized") {
		t.Errorf("Open: %v", err)
	}
	if errors.Is(err, os.ErrNotExist) {
		t.Error("a type problem reported as a missing file")
	}
}

// TestF32GGUFRunsLikeTheOriginal opens an F32 GGUF export (ssm_a stored as
// −exp(A_log), conv1d squeezed, epsilons in FLOAT32 metadata) and the
// canonical folder it came from: their logits are identical bit for bit
// (the reference computes A from A_log with the same float64 exp and
// rounding the exporter used).
func TestF32GGUFRunsLikeTheOriginal(t *testing.T) {
	for _, name := range []string{"phi4flash-tiny", "sambay-tiny"} {
		hf := filepath.Join(td, name, "hf")
		out := filepath.Join(t.TempDir(), "f32.gguf")
		if _, err := ggufmodel.Export(t.Context(), hf, ggufmodel.Options{Output: out, Policy: "f32"}); err != nil {
			t.Fatal(err)
		}
		a, err := Open(out, reference.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		b, err := Open(hf, reference.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer b.Close()
		ids := []int{5, 42, 7, 99, 3, 17, 64, 88}
		ra, err := a.Run(a.NewState(), ids, reference.Want{AllLogits: true})
		if err != nil {
			t.Fatal(err)
		}
		rb, err := b.Run(b.NewState(), ids, reference.Want{AllLogits: true})
		if err != nil {
			t.Fatal(err)
		}
		var maxDiff, maxAbs float64
		for i := range rb.Logits {
			maxDiff = max(maxDiff, math.Abs(float64(ra.Logits[i]-rb.Logits[i])))
			maxAbs = max(maxAbs, math.Abs(float64(rb.Logits[i])))
		}
		if maxDiff != 0 {
			t.Errorf("%s: GGUF F32 logits differ by %.3g (max |logit| %.3g)", name, maxDiff, maxAbs)
		}
	}
}
