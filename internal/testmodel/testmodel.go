// Package testmodel builds synthetic checkpoints for benchmarks and tests
// (patterned weights of any size, written without holding them in memory)
// and reads the process's peak memory. Only tests import it.
package testmodel

import (
	"bufio"
	"encoding/binary"
	"io"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/reference"
)

// PatternReader serves a repeating buffer of finite values as tensor bytes.
type PatternReader []byte

func (p PatternReader) ReadAt(b []byte, off int64) (int, error) {
	n := 0
	for n < len(b) {
		o := (off + int64(n)) % int64(len(p))
		n += copy(b[n:], p[o:])
	}
	return n, nil
}

// Patterns returns 8 MiB bf16 and 16 MiB f32 buffers of N(0, 0.02) values.
func Patterns() (bf16, f32 PatternReader) {
	r := rand.New(rand.NewSource(1))
	const n = 4 << 20
	bf16, f32 = make([]byte, 2*n), make([]byte, 4*n)
	for i := 0; i < n; i++ {
		v := float32(r.NormFloat64() * 0.02)
		binary.LittleEndian.PutUint16(bf16[2*i:], formats.Float32ToBF16(v))
		binary.LittleEndian.PutUint32(f32[4*i:], math.Float32bits(v))
	}
	return bf16, f32
}

// BenchConfig is Phi-4-mini-flash width with fewer layers and a smaller
// vocabulary, sized by layers to about gb gigabytes of bf16.
func BenchConfig(gb float64) reference.Config {
	c := reference.Config{NLayer: 4, NEmbd: 2560, NHead: 40, NKVHead: 20, HeadDim: 64, Intermediate: 10240,
		VocabSize: 32768, Window: 512, DState: 16, DConv: 4, Expand: 2, DtRank: 160, Norm: reference.LayerNorm,
		NormEps: 1e-5, DiffAttn: true, QKVBias: true, AttnOutBias: true, Tied: true, GMU: true, MaxPosition: 4096,
		LogitScale: 1, AttnScale: 0.125}
	for float64(c.NumParams())*2 < gb*1e9 {
		c.NLayer += 4
	}
	return c
}

// WriteSynthetic writes an HF-layout checkpoint of cfg (bf16, A_log and λ
// F32) with the given config.json, and returns its tensor bytes.
func WriteSynthetic(tb testing.TB, dir string, cfg reference.Config, configJSON []byte, shard int64) int64 {
	bf, f32 := Patterns()
	var ts []formats.Tensor
	for _, s := range cfg.Tensors() {
		dt, src := formats.BF16, bf
		if s.KeepF32 {
			dt, src = formats.F32, f32
		}
		ts = append(ts, formats.NewTensor(s.Name, dt, s.Shape, "synthetic", src))
	}
	res, err := safetensors.WriteModel(dir, ts, safetensors.WriteOptions{MaxShardSize: shard})
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), configJSON, 0o644); err != nil {
		tb.Fatal(err)
	}
	return res.TotalSize
}

// CopyFiles copies every file of src into dst (fsynced): the baseline an
// import of the same bytes is measured against.
func CopyFiles(tb testing.TB, src, dst string) {
	os.MkdirAll(dst, 0o755)
	entries, _ := os.ReadDir(src)
	buf := make([]byte, 1<<20)
	for _, e := range entries {
		in, err := os.Open(filepath.Join(src, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, e.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		w := bufio.NewWriterSize(out, 1<<20)
		if _, err := io.CopyBuffer(w, in, buf); err != nil {
			tb.Fatal(err)
		}
		w.Flush()
		out.Sync()
		out.Close()
		in.Close()
	}
}

// ResetPeakRSS resets VmHWM (Linux: writing 5 to clear_refs) and PeakRSS
// reads it back, in bytes; both report false where unsupported.
func ResetPeakRSS() bool { return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil }

// PeakRSS returns the peak resident memory since the last ResetPeakRSS.
func PeakRSS() (int64, bool) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmHWM:") {
			f := strings.Fields(line)
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			return kb << 10, true
		}
	}
	return 0, false
}

// F32Tensor returns an in-memory F32 tensor whose element i is fill(i).
func F32Tensor(name string, shape []int64, fill func(i int) float32) formats.Tensor {
	n, _ := formats.NumElements(shape)
	v := make([]float32, n)
	for i := range v {
		v[i] = fill(i)
	}
	b := make([]byte, 4*n)
	formats.EncodeFloat32(b, v, formats.F32)
	return formats.NewTensorBytes(name, formats.F32, shape, "mem", b)
}

// WriteRandom writes a canonical Phi4Flash-style model (LayerNorm,
// differential attention, tied) with random bf16 weights: matrices with
// standard deviation 1/√in, embeddings 0.1 (so that the blocks, not the
// token's own embedding, decide the logits), norms near 1; configJSON is
// its config.json.
func WriteRandom(tb testing.TB, dir string, c reference.Config, configJSON []byte) {
	r := rand.New(rand.NewSource(5))
	var ts []formats.Tensor
	for _, s := range c.Tensors() {
		n, _ := formats.NumElements(s.Shape)
		v := make([]float32, n)
		leaf := s.Name[strings.LastIndexByte(s.Name, '.')+1:]
		for i := range v {
			switch {
			case leaf == "A_log":
				v[i] = float32(math.Log(float64(i%c.DState + 1)))
			case strings.Contains(s.Name, "norm") && leaf == "weight", leaf == "D":
				v[i] = 1 + float32(r.NormFloat64()*0.1)
			case s.Name == "model.embed_tokens.weight":
				v[i] = float32(r.NormFloat64() * 0.1)
			case len(s.Shape) == 2:
				v[i] = float32(r.NormFloat64() / math.Sqrt(float64(s.Shape[1])))
			case strings.Contains(s.Name, "dt_proj.bias"):
				v[i] = -3 + float32(r.NormFloat64()*0.5)
			default:
				v[i] = float32(r.NormFloat64() * 0.1)
			}
		}
		dt := formats.BF16
		if s.KeepF32 {
			dt = formats.F32
		}
		b := make([]byte, int(n)*dt.Size())
		formats.EncodeFloat32(b, v, dt)
		ts = append(ts, formats.NewTensorBytes(s.Name, dt, s.Shape, "random", b))
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	if _, err := safetensors.WriteModel(dir, ts, safetensors.WriteOptions{}); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), configJSON, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// MaxDiff returns the largest |a[i] − b[i]| and how many elements differ.
func MaxDiff(a, b []float32) (d float64, n int) {
	for i := range a {
		if a[i] != b[i] {
			n++
		}
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d, n
}
