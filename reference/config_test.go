package reference

import (
	"fmt"
	"math"
	"runtime"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/formats"
)

// example is the worked example of docs/MODEL.md §9.
func example() Config {
	return Config{NLayer: 8, NEmbd: 64, NHead: 4, NKVHead: 2, HeadDim: 16, Intermediate: 256, VocabSize: 256,
		Window: 16, DState: 16, DConv: 4, Expand: 2, DtRank: 4, Norm: LayerNorm, NormEps: 1e-5, DiffAttn: true,
		QKVBias: true, AttnOutBias: true, Tied: true, GMU: true, LogitScale: 1, AttnScale: 0.25}
}

func TestWorkedExample(t *testing.T) {
	c := example()
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	ts := c.Tensors()
	var params, bytes int64
	perRole := map[string]int64{}
	for _, s := range ts {
		n := int64(1)
		for _, d := range s.Shape {
			n *= d
		}
		params += n
		if s.KeepF32 {
			bytes += 4 * n
		} else {
			bytes += 2 * n
		}
		if s.Layer >= 0 && strings.Contains(s.Name, ".attn.") {
			perRole[s.Role.String()] += n
		}
	}
	if len(ts) != 116 || params != 572_224 || bytes != 1_157_248 {
		t.Errorf("%d tensors, %d params, %d bytes; docs/MODEL.md §9 says 116, 572224, 1157248", len(ts), params, bytes)
	}
	// Per role, per layer (docs/MODEL.md §9): mamba 32,640; self-attention 12,576; GMU 16,384; cross 8,416.
	for role, want := range map[string]int64{"mamba": 2 * 32640, "mamba_memory": 32640, "swa": 2 * 12576, "full_kv": 12576, "gmu": 16384, "cross": 8416} {
		if perRole[role] != want {
			t.Errorf("%s mixer parameters %d, want %d", role, perRole[role], want)
		}
	}
	// Table rows spot-checked (number, name, shape) from docs/MODEL.md §9.
	for i, want := range map[int]string{
		0: "model.embed_tokens.weight [256 64]", 9: "model.layers.0.attn.A_log [128 16]",
		18: "model.layers.1.attn.Wqkv.weight [128 64]", 24: "model.layers.1.attn.inner_cross_attn.subln.weight [32]",
		93: "model.layers.6.attn.in_proj.weight [128 64]", 101: "model.layers.7.attn.Wqkv.weight [64 64]",
		115: "model.final_layernorm.bias [64]",
	} {
		if got := fmt.Sprint(ts[i].Name, " ", ts[i].Shape); got != want {
			t.Errorf("tensor %d = %s, want %s", i+1, got, want)
		}
	}
}

func TestRoles(t *testing.T) {
	c := example()
	want := []Role{RoleMamba, RoleSWA, RoleMamba, RoleSWA, RoleMambaMemory, RoleFullKV, RoleGMU, RoleCross}
	for i, r := range want {
		if c.Role(i) != r {
			t.Errorf("layer %d: %v, want %v", i, c.Role(i), r)
		}
	}
	c.NLayer = 32
	counts := map[Role]int{}
	for i := 0; i < 32; i++ {
		counts[c.Role(i)]++
	}
	if counts[RoleMamba]+counts[RoleMambaMemory] != 9 || counts[RoleSWA] != 8 || counts[RoleFullKV] != 1 || counts[RoleGMU] != 7 || counts[RoleCross] != 7 {
		t.Errorf("L=32 counts %v (want 9 Mamba, 8 SWA, 1 full, 7 GMU, 7 cross)", counts)
	}
	if c.MemoryLayer() != 16 || c.KVLayer() != 17 {
		t.Errorf("memory %d, KV %d", c.MemoryLayer(), c.KVLayer())
	}
	c.GMU = false
	if c.Role(16) != RoleMamba || c.Role(18) != RoleCross || c.MemoryLayer() != -1 {
		t.Errorf("without GMU: layer 16 %v, 18 %v", c.Role(16), c.Role(18))
	}
}

func TestLambdaInit(t *testing.T) {
	c := example()
	// docs/MODEL.md §4.9 step 5, six decimals.
	for i, want := range map[int]float64{1: 0.355509, 3: 0.556058, 5: 0.666122, 7: 0.726526, 9: 0.759677, 17: 0.796342, 31: 0.799945} {
		if got := c.LambdaInit(i); math.Abs(got-want) > 5e-7 {
			t.Errorf("λinit(%d) = %.7f, want %.6f", i, got, want)
		}
	}
	c.DAConstLamb = true
	if got := c.LambdaInit(1); math.Abs(got-0.8) > 1e-12 {
		t.Errorf("constant λinit = %v", got)
	}
}

func TestValidate(t *testing.T) {
	for _, c := range []struct {
		mod func(*Config)
		msg string
	}{
		{func(c *Config) { c.NLayer = 6 }, "divisible by 4"},
		{func(c *Config) { c.NKVHead = 3 }, "multiple"},
		{func(c *Config) { c.NHead, c.NKVHead = 6, 3 }, "even"},
		{func(c *Config) { c.DtRank = 5 }, "ceil(n_embd/16) = 4"},
		{func(c *Config) { c.Window = 0 }, "sliding window"},
		{func(c *Config) { c.Norm = "nonorm" }, "norm_type"},
		{func(c *Config) { c.NEmbd = 0 }, "n_embd = 0"},
	} {
		cfg := example()
		c.mod(&cfg)
		if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), c.msg) {
			t.Errorf("%v: want %q", err, c.msg)
		}
	}
	cfg := example()
	if !cfg.HFCompatible() {
		t.Error("worked example should be Phi4Flash-compatible")
	}
	cfg.HeadDim = 32
	cfg.AttnScale = cfg.DefaultAttnScale()
	if cfg.HFCompatible() {
		t.Error("H·hd ≠ E must not be Phi4Flash-compatible")
	}
}

// TestConfigLiesDoNotAllocate: a config whose vocabulary is 2^31 over a
// tiny model's tensors used to make the loader allocate placeholders of the
// config's size (256 GiB); now it reports the mismatches and allocates
// nothing in proportion to the config.
func TestConfigLiesDoNotAllocate(t *testing.T) {
	c := Config{NLayer: 4, NEmbd: 32, NHead: 4, NKVHead: 2, HeadDim: 8, Intermediate: 64, VocabSize: 1 << 31, Window: 4,
		DState: 16, DConv: 4, Expand: 2, DtRank: 2, Norm: LayerNorm, NormEps: 1e-5, DiffAttn: true, QKVBias: true,
		AttnOutBias: true, Tied: true, GMU: true, LogitScale: 1, AttnScale: 0.35}
	if err := c.Validate(); err != nil {
		t.Skipf("the config is refused earlier: %v", err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := Load(c, func(name string) (formats.Tensor, bool) {
		return formats.NewTensorBytes(name, formats.F32, []int64{1}, "tiny", make([]byte, 4)), true
	}, Options{})
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "has shape") {
		t.Fatalf("err %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<20 {
		t.Errorf("loading a lying config allocated %d MB", grew>>20)
	}
}
