package reference

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/reference/internal/kernel"
)

// widthConfig is a Phi-4-mini-flash-width model with L layers.
func widthConfig(L, V int) Config {
	return Config{NLayer: L, NEmbd: 2560, NHead: 40, NKVHead: 20, HeadDim: 64, Intermediate: 10240, VocabSize: V,
		Window: 512, DState: 16, DConv: 4, Expand: 2, DtRank: 160, Norm: LayerNorm, NormEps: 1e-5, DiffAttn: true,
		QKVBias: true, AttnOutBias: true, Tied: true, GMU: true, MaxPosition: 4096, LogitScale: 1, AttnScale: 0.125}
}

// randomTensors makes the canonical tensors of c in memory: random bf16
// matrices (std 0.02), norms near 1, A_log = log(1..N), λ small (F32).
func randomTensors(c Config) map[string]formats.Tensor {
	r := rand.New(rand.NewSource(1))
	pool := make([]byte, 2<<20) // 1M bf16 values, reused by offset
	for i := 0; i < len(pool); i += 2 {
		binary.LittleEndian.PutUint16(pool[i:], formats.Float32ToBF16(float32(r.NormFloat64()*0.02)))
	}
	out := map[string]formats.Tensor{}
	for _, s := range c.Tensors() {
		n, _ := formats.NumElements(s.Shape)
		leaf := s.Name[strings.LastIndexByte(s.Name, '.')+1:]
		if s.KeepF32 || len(s.Shape) == 1 || leaf == "weight" && len(s.Shape) == 3 {
			v := make([]float32, n)
			for i := range v {
				switch {
				case leaf == "A_log":
					v[i] = float32(math.Log(float64(i%c.DState + 1)))
				case strings.Contains(s.Name, "norm") || leaf == "D":
					v[i] = 1
				case strings.Contains(s.Name, "dt_proj.bias"):
					v[i] = -3
				default:
					v[i] = float32(r.NormFloat64() * 0.05)
				}
			}
			dt := formats.BF16
			if s.KeepF32 {
				dt = formats.F32
			}
			b := make([]byte, int(n)*dt.Size())
			formats.EncodeFloat32(b, v, dt)
			out[s.Name] = formats.NewTensorBytes(s.Name, dt, s.Shape, "random", b)
			continue
		}
		b := make([]byte, 2*n)
		for off := 0; off < len(b); off += len(pool) {
			copy(b[off:], pool[(off/len(pool)*7919*2)%len(pool):])
		}
		out[s.Name] = formats.NewTensorBytes(s.Name, formats.BF16, s.Shape, "random", b)
	}
	return out
}

// matrixParams returns the parameters of the block matrices (used by every
// position) and of the head (used only by the positions whose logits are
// computed).
func matrixParams(c Config) (blocks, head float64) {
	for _, s := range c.Tensors() {
		if len(s.Shape) == 2 && s.Layer >= 0 && !strings.HasSuffix(s.Name, "A_log") {
			blocks += float64(s.Shape[0] * s.Shape[1])
		}
	}
	return blocks, float64(c.VocabSize * c.NEmbd)
}

func timeIt(f func()) float64 {
	start := time.Now()
	f()
	return float64(time.Since(start).Nanoseconds())
}

// memcpyRate returns bytes/s of copying a 256 MB buffer, best of three.
func memcpyRate() float64 {
	a, b := make([]byte, 256<<20), make([]byte, 256<<20)
	for i := range a {
		a[i] = byte(i)
	}
	best := math.Inf(1)
	for i := 0; i < 3; i++ {
		best = math.Min(best, timeIt(func() { copy(b, a) }))
	}
	return float64(len(a)) / best * 1e9
}

// BenchmarkForward runs a Phi-4-mini-flash-width model (hidden 2560, 4
// layers, random bf16 weights, vocabulary 32064) in fp32 numerics:
//   - prefill of 128 tokens: achieved GFLOP/s (matrix FLOPs 2·T·block params
//     plus the head for the last position, over the whole forward's wall
//     time) against the same MatMul kernel's GFLOP/s
//     on a 2560 → 10240 product at T = 128, measured in the same run;
//   - decoding: ms per token against the memory-bandwidth bound (matrix
//     bytes ÷ a memcpy rate measured in the same run).
//
// With SAMBAY_BENCH_DIR set, the model is also written there (config.json +
// model.safetensors) for the PyTorch comparison in Taskfile.yml.
func BenchmarkForward(b *testing.B) {
	if testing.Short() {
		b.Skip("allocates about 1 GB")
	}
	c := widthConfig(4, 32064)
	ts := randomTensors(c)
	if dir := os.Getenv("SAMBAY_BENCH_DIR"); dir != "" {
		writeBenchModel(b, dir, c, ts)
	}
	ts = offHeap(b, ts)
	m, err := Load(c, func(n string) (formats.Tensor, bool) { t, ok := ts[n]; return t, ok }, Options{})
	if err != nil {
		b.Fatal(err)
	}
	ids := make([]int, 128)
	for i := range ids {
		ids[i] = (i*7919 + 13) % c.VocabSize
	}
	blocks, head := matrixParams(c)
	b.Run("prefill=128", func(b *testing.B) {
		W := &kernel.Mat{Rows: 10240, Cols: 2560, Kind: kernel.BF16, Data: ts["model.layers.0.mlp.fc1.weight"].Must()[:2*10240*2560]}
		X := make([]float32, 128*2560)
		for i := range X {
			X[i] = float32(i%97) * 0.01
		}
		Y := make([]float32, 128*10240)
		mmNs := timeIt(func() { kernel.MatMul(Y, X, 128, W) })
		mmGF := 2 * 128 * 10240 * 2560 / mmNs
		best := math.Inf(1)
		for b.Loop() {
			start := time.Now()
			if _, err := m.Run(m.NewState(), ids, Want{AllLogits: true}); err != nil {
				b.Fatal(err)
			}
			best = min(best, float64(time.Since(start).Nanoseconds()))
		}
		ns := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
		gf := 2 * 128 * (blocks + head) / ns // the logits of every position, as sambay_ref.py --time
		b.ReportMetric(128/(ns/1e9), "tokens/s")
		b.ReportMetric(128/(best/1e9), "best-tokens/s") // the fastest pass, as sambay_ref.py --time reports
		b.ReportMetric(gf, "GFLOP/s")
		b.ReportMetric(mmGF, "matmul-GFLOP/s")
		b.ReportMetric(gf/mmGF, "of-matmul")
	})
	b.Run("decode", func(b *testing.B) {
		rate := memcpyRate()
		st := m.NewState()
		if _, err := m.Run(st, ids[:16], Want{}); err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			if _, err := m.Run(st, ids[16+i%100:17+i%100], Want{}); err != nil {
				b.Fatal(err)
			}
			i++
		}
		ms := float64(b.Elapsed().Nanoseconds()) / float64(b.N) / 1e6
		bound := 2 * (blocks + head) / rate * 1e3
		b.ReportMetric(ms, "ms/token")
		b.ReportMetric(bound, "bound-ms")
		b.ReportMetric(ms/bound, "x-bound")
		b.ReportMetric(rate/1e9, "memcpy-GB/s")
	})
}

func writeBenchModel(b *testing.B, dir string, c Config, ts map[string]formats.Tensor) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		b.Fatal(err)
	}
	// Written without the safetensors package (reference must not import
	// it): one file, tensors in name order, header padded to 8 bytes.
	names := make([]string, 0, len(ts))
	for n := range ts {
		names = append(names, n)
	}
	sortStrings(names)
	var hdr strings.Builder
	hdr.WriteString("{")
	var off int64
	for i, n := range names {
		t := ts[n]
		if i > 0 {
			hdr.WriteString(",")
		}
		shape := make([]string, len(t.Shape))
		for j, d := range t.Shape {
			shape[j] = strconv.FormatInt(d, 10)
		}
		fmt.Fprintf(&hdr, `"%s":{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}`, n, t.DType, strings.Join(shape, ","), off, off+t.Size())
		off += t.Size()
	}
	hdr.WriteString("}")
	for hdr.Len()%8 != 0 {
		hdr.WriteString(" ")
	}
	f, err := os.Create(filepath.Join(dir, "model.safetensors"))
	if err != nil {
		b.Fatal(err)
	}
	var pre [8]byte
	binary.LittleEndian.PutUint64(pre[:], uint64(hdr.Len()))
	f.Write(pre[:])
	f.WriteString(hdr.String())
	for _, n := range names {
		f.Write(ts[n].Must())
	}
	f.Close()
	cfg := fmt.Sprintf(`{"hidden_size": %d, "intermediate_size": %d, "num_hidden_layers": %d, "num_attention_heads": %d, "num_key_value_heads": %d, "vocab_size": %d, "sliding_window": %d, "tie_word_embeddings": true, "max_position_embeddings": 4096}`,
		c.NEmbd, c.Intermediate, c.NLayer, c.NHead, c.NKVHead, c.VocabSize, c.Window)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(cfg+"\n"), 0o644)
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}
