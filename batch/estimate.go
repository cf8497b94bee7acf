package batch

import (
	"crypto/sha256"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
	"github.com/sambay-conv/sambay-conv/quant"
	"github.com/sambay-conv/sambay-conv/reference"
)

// Estimates of `batch plan`: each kernel a task runs is timed here, now, on
// a small gaussian input (a few ms each), and scaled by the task's element
// counts over the cores. They leave out the disk and the page cache, so
// they are a lower bound where the source is not cached.

const calRows, calCols = 32, 4096

// calibration holds seconds per element of each kernel, measured once.
type calibration struct {
	mu    sync.Mutex
	ggml  map[ggml.Type]float64
	mlx   map[int]float64
	hash  float64 // seconds per byte of sha256
	cores float64
	input []float32
	raw   []byte // input as bf16
}

var cal = calibration{ggml: map[ggml.Type]float64{}, mlx: map[int]float64{}}

// timeIt returns the seconds per element of f over calRows·calCols
// elements, the best of three runs.
func timeIt(f func()) float64 {
	best := 1e9
	for range 3 {
		t := time.Now()
		f()
		best = min(best, time.Since(t).Seconds())
	}
	return best / (calRows * calCols)
}

func (c *calibration) init() {
	if c.input != nil {
		return
	}
	r := rand.New(rand.NewPCG(1, 2))
	c.input = make([]float32, calRows*calCols)
	for i := range c.input {
		c.input[i] = float32(r.NormFloat64())
	}
	c.raw = make([]byte, 2*len(c.input))
	formats.EncodeFloat32(c.raw, c.input, formats.BF16)
	c.cores = float64(runtime.GOMAXPROCS(0))
	buf := make([]byte, 4*len(c.input))
	c.hash = timeIt(func() { sha256.Sum256(buf) }) / 4
}

func (c *calibration) ggmlRate(t ggml.Type) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	if v, ok := c.ggml[t]; ok {
		return v
	}
	dst := make([]byte, t.RowBytes(calCols))
	back := make([]float32, calCols)
	x := make([]float32, calCols)
	v := timeIt(func() {
		for r := range calRows {
			formats.DecodeFloat32(x, c.raw[2*r*calCols:2*(r+1)*calCols], formats.BF16) // the canonical's bf16
			quant.QuantizeRow(t, dst, x)
			quant.DequantizeRow(t, back, dst) // the export's error statistics
			var acc quant.ErrSums
			acc.AddRow(x, back)
		}
	})
	c.ggml[t] = v
	return v
}

func (c *calibration) mlxRate(bits int) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.init()
	if v, ok := c.mlx[bits]; ok {
		return v
	}
	packed := make([]byte, calCols*bits/8)
	sc, bs := make([]float32, calCols/64), make([]float32, calCols/64)
	x, back := make([]float32, calCols), make([]float32, calCols)
	v := timeIt(func() {
		for r := range calRows {
			formats.DecodeFloat32(x, c.raw[2*r*calCols:2*(r+1)*calCols], formats.BF16)
			quant.MLXQuantizeRow(packed, sc, bs, x, bits, 64)
			quant.MLXDequantizeRow(back, packed, sc, bs, bits, 64) // the export's error statistics
			var acc quant.ErrSums
			acc.AddRow(x, back)
		}
	})
	c.mlx[bits] = v
	return v
}

// TaskEstimate is the estimated seconds of task t of group g on this
// machine.
func TaskEstimate(g *Group, t *Task) float64 { return t.estimate(&g.config) }

func (t *Task) estimate(cfg *reference.Config) float64 {
	var s float64
	switch t.Target.Format {
	case "gguf":
		o, err := t.Target.ggufOptions()
		if err != nil {
			return 0
		}
		r, err := ggufmodel.Plan(cfg, o)
		if err != nil {
			return 0
		}
		for _, tn := range r.Tensors {
			if ty, err := ggml.ParseType(tn.Type); err == nil && ty.IsQuantized() {
				n := int64(1)
				for _, d := range tn.Dims {
					n *= int64(d)
				}
				s += float64(n) * cal.ggmlRate(ty)
			}
		}
	case "mlx":
		rate := cal.mlxRate(t.Target.Bits)
		for _, ts := range cfg.Tensors() {
			if ts.Kind.MLX {
				n := int64(1)
				for _, d := range ts.Shape {
					n *= d
				}
				s += float64(n) * rate
			}
		}
	}
	// Every output is hashed once when its record is written.
	return s/cal.cores + float64(t.Bytes)*cal.hash
}

// ImportEstimate is the estimated seconds of g's import: its source and
// its output are hashed (the copy itself runs beside the hashing).
func ImportEstimate(g *Group) float64 {
	cal.mu.Lock()
	cal.init()
	h := cal.hash
	cal.mu.Unlock()
	return 2 * float64(g.Bytes) * h
}

// MaxShardEstimate is the estimated seconds of the busiest shard.
func MaxShardEstimate(p *Plan) float64 {
	per := make([]float64, p.Shards)
	for _, g := range p.Groups {
		per[g.Shard] += ImportEstimate(g)
		for _, t := range g.Tasks {
			per[g.Shard] += TaskEstimate(g, t)
		}
	}
	return slices.Max(per)
}
