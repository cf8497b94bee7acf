package convert

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"
	"github.com/sambay-conv/sambay-conv/reference"
)

const td = "../testdata"

func importTo(t *testing.T, src string, opts ImportOptions) (*ImportResult, error) {
	t.Helper()
	if opts.Output == "" {
		opts.Output = filepath.Join(t.TempDir(), "out")
	}
	return Import(context.Background(), src, opts)
}

func mustImport(t *testing.T, src string, opts ImportOptions) (*ImportResult, *safetensors.Model) {
	t.Helper()
	res, err := importTo(t, src, opts)
	if err != nil {
		t.Fatalf("import %s: %v", src, err)
	}
	m, err := safetensors.OpenModel(res.Output)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return res, m
}

// TestLayoutsImportIdentically imports every input layout of both fixture
// models and requires bit-equal canonical tensors. The HF files hold the
// PyTorch-rounded bf16 weights and the .pth files the fp32 masters, so
// equality also proves the bf16 rounding matches PyTorch's. The separate
// ArchScale layout cannot hold a k bias: its Wqkv.bias K rows must be zero
// and every other row equal.
func TestLayoutsImportIdentically(t *testing.T) {
	for _, model := range []string{"phi4flash-tiny", "sambay-tiny"} {
		t.Run(model, func(t *testing.T) {
			dir := filepath.Join(td, model)
			lit := ConfigOptions{ConfigFile: filepath.Join(dir, "litgpt-config.json")}
			ref, refModel := mustImport(t, filepath.Join(dir, "hf"), ImportOptions{})
			for _, c := range []struct {
				src        string
				co         ConfigOptions
				sameConfig bool
				noKBias    bool
			}{
				{"hf-sharded", ConfigOptions{}, true, false},
				{"archscale-head.pth", lit, true, true},
				{"archscale-fused.pth", lit, true, false},
				{"pytorch_model.bin", lit, false, true}, // no hparams: no μP++ from the file
			} {
				t.Run(c.src, func(t *testing.T) {
					res, m := mustImport(t, filepath.Join(dir, c.src), ImportOptions{Config: c.co})
					if c.sameConfig && res.Config != ref.Config {
						t.Errorf("config differs:\n got  %+v\n want %+v", res.Config, ref.Config)
					}
					if len(m.Tensors) != len(refModel.Tensors) {
						t.Fatalf("%d tensors, want %d", len(m.Tensors), len(refModel.Tensors))
					}
					cfg := ref.Config
					kLo, kHi := 2*cfg.QDim(), 2*(cfg.QDim()+cfg.KVDim()) // K rows of a bf16 Wqkv.bias, in bytes
					for _, want := range refModel.Tensors {
						got, ok := m.Tensor(want.Name)
						if !ok {
							t.Fatalf("%s missing", want.Name)
						}
						gb, _ := got.Bytes()
						wb, _ := want.Bytes()
						if got.DType != want.DType || !formats.EqualShape(got.Shape, want.Shape) {
							t.Fatalf("%s: %v %v, want %v %v", want.Name, got.DType, got.Shape, want.DType, want.Shape)
						}
						if c.noKBias && strings.HasSuffix(want.Name, "Wqkv.bias") && len(wb) > kHi && model == "phi4flash-tiny" {
							if !bytes.Equal(gb[:kLo], wb[:kLo]) || !bytes.Equal(gb[kHi:], wb[kHi:]) || !bytes.Equal(gb[kLo:kHi], make([]byte, kHi-kLo)) {
								t.Errorf("%s: want q and v rows equal and k rows zero", want.Name)
							}
							continue
						}
						if !bytes.Equal(gb, wb) {
							t.Errorf("%s differs from the HF import", want.Name)
						}
					}
				})
			}
		})
	}
}

func TestImportOutputFolder(t *testing.T) {
	out := filepath.Join(t.TempDir(), "canon")
	res, err := Import(context.Background(), filepath.Join(td, "sambay-tiny", "archscale-head.pth"), ImportOptions{
		Output: out, Config: ConfigOptions{ConfigFile: filepath.Join(td, "sambay-tiny", "litgpt-config.json")}, MaxShardSize: 60_000})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"config.json", "manifest.json", safetensors.IndexName} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("%s missing: %v", f, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(out))
	if len(entries) != 1 {
		t.Errorf("parent holds %d entries, want only the output (no temp leftovers)", len(entries))
	}
	// config.json reads back to the same canonical config.
	b, _ := os.ReadFile(filepath.Join(out, "config.json"))
	back, _, err := ParseHFConfig(b)
	if err != nil {
		t.Fatal(err)
	}
	if back != res.Config {
		t.Errorf("config.json reads back as %+v, want %+v", back, res.Config)
	}
	var raw map[string]any
	json.Unmarshal(b, &raw)
	if raw["sambay_hf_compatible"] != false || raw["head_dim"] != float64(16) || raw["sambay_norm_type"] != "rmsnorm" {
		t.Errorf("config.json lacks the extension keys: %s", b)
	}
	// The manifest's digests match the files.
	var man Manifest
	mb, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
	if err := json.Unmarshal(mb, &man); err != nil {
		t.Fatal(err)
	}
	for _, f := range man.Files {
		got, err := HashFile(filepath.Join(out, f.Name))
		if f.Digest == "safetensors-content" {
			got.SHA256 = recomputeContentDigest(t, filepath.Join(out, f.Name))
		}
		if err != nil || got.SHA256 != f.SHA256 || got.Size != f.Size {
			t.Errorf("%s: manifest %s/%d, file %s/%d", f.Name, f.SHA256, f.Size, got.SHA256, got.Size)
		}
	}
	// The tensor digests are sha256 of the bytes in the files.
	m, _ := safetensors.OpenModel(out)
	defer m.Close()
	for _, mt := range man.Tensors {
		tn, _ := m.Tensor(mt.Name)
		b, _ := tn.Bytes()
		if d := sha256.Sum256(b); hex.EncodeToString(d[:]) != mt.SHA256 {
			t.Errorf("%s: manifest digest %s", mt.Name, mt.SHA256)
		}
	}
	if len(man.Tensors) != len(res.Config.Tensors()) || man.Params != res.Config.NumParams() {
		t.Errorf("manifest lists %d tensors / %d params", len(man.Tensors), man.Params)
	}
	if man.Source.Files[0].Digest != "state-dict-content" || man.Provenance["iter_num"] != float64(1000) {
		t.Errorf("manifest source %+v provenance %v", man.Source.Files, man.Provenance)
	}
	// A second import into the same folder needs --force and then replaces it.
	_, err = Import(context.Background(), filepath.Join(td, "sambay-tiny", "hf"), ImportOptions{Output: out})
	if err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("import over an existing folder: %v", err)
	}
	if _, err := Import(context.Background(), filepath.Join(td, "sambay-tiny", "hf"), ImportOptions{Output: out, Force: true}); err != nil {
		t.Errorf("forced re-import: %v", err)
	}
}

func TestImportDTypes(t *testing.T) {
	src := filepath.Join(td, "phi4flash-tiny", "archscale-fused.pth")
	co := ConfigOptions{ConfigFile: filepath.Join(td, "phi4flash-tiny", "litgpt-config.json")}
	_, m32 := mustImport(t, src, ImportOptions{DType: formats.F32, Config: co})
	_, m16 := mustImport(t, src, ImportOptions{DType: formats.F16, Config: co})
	for _, t32 := range m32.Tensors {
		if t32.DType != formats.F32 {
			t.Fatalf("%s is %v in an f32 import", t32.Name, t32.DType)
		}
		t16, _ := m16.Tensor(t32.Name)
		keep := strings.HasSuffix(t32.Name, "A_log") || strings.Contains(t32.Name, "lambda_")
		if (t16.DType == formats.F32) != keep {
			t.Errorf("%s is %v in an f16 import", t32.Name, t16.DType)
		}
		a, _ := t32.Float32s()
		b, _ := t16.Float32s()
		for i := range a {
			want := a[i]
			if !keep {
				want = formats.F16ToFloat32(formats.Float32ToF16(a[i]))
			}
			if b[i] != want {
				t.Fatalf("%s[%d] = %v, want %v", t32.Name, i, b[i], want)
			}
		}
	}
}

// TestReleaseTensorSet checks the canonical set of the real release's
// config.json against its index: the same 434 names; with the spec's shapes
// and A_log/λ in F32, the bytes add up to the index total_size exactly.
func TestReleaseTensorSet(t *testing.T) {
	cb, _ := os.ReadFile(filepath.Join(td, "phi4flash-release", "config.json"))
	cfg, info, err := ParseHFConfig(cb)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DtRank != 160 || cfg.Di() != 5120 || cfg.NKVHead != 20 || cfg.HeadDim != 64 || !cfg.HFCompatible() {
		t.Errorf("release config %+v", cfg)
	}
	for _, k := range []string{"mamba_d_state", "mamba_d_conv", "mamba_expand"} {
		if !strings.Contains(strings.Join(info.Defaulted, ","), k) {
			t.Errorf("%s should be reported as a class default (release omits it)", k)
		}
	}
	ib, _ := os.ReadFile(filepath.Join(td, "phi4flash-release", "model.safetensors.index.json"))
	total, wm, err := safetensors.ParseIndex(ib)
	if err != nil {
		t.Fatal(err)
	}
	specs := cfg.Tensors()
	if len(specs) != 434 || len(wm) != 434 {
		t.Fatalf("%d canonical tensors, %d in the index; want 434", len(specs), len(wm))
	}
	var bytes, params int64
	for _, s := range specs {
		if _, ok := wm[s.Name]; !ok {
			t.Errorf("%s not in the release index", s.Name)
		}
		n, _ := formats.NumElements(s.Shape)
		params += n
		if s.KeepF32 {
			bytes += 4 * n
		} else {
			bytes += 2 * n
		}
	}
	if params != 3_852_562_944 || bytes != *total {
		t.Errorf("%d parameters (want 3852562944), %d bytes (index total_size %d)", params, bytes, *total)
	}
	// The ArchScale phi4miniflash_d32 table entry gives the same model, and its
	// name map covers every release tensor with distinct ArchScale names.
	as, _, err := archscaleConfig(nil, "phi4miniflash_d32", nil, MuPOverrides{})
	if err != nil {
		t.Fatal(err)
	}
	as.MaxPosition = cfg.MaxPosition
	if as != cfg {
		t.Errorf("phi4miniflash_d32:\n got  %+v\n want %+v", as, cfg)
	}
	seen := map[string]string{}
	for _, s := range as.Tensors() {
		for _, n := range ArchScaleName(s) {
			if prev, dup := seen[n]; dup && !strings.HasSuffix(s.Name, "Wqkv.bias") {
				t.Errorf("%s and %s both map to %s", prev, s.Name, n)
			}
			seen[n] = s.Name
			if !strings.HasPrefix(n, "transformer.") && n != "lm_head.weight" {
				t.Errorf("%s maps to %s", s.Name, n)
			}
		}
	}
}

// corrupt writes a copy of the phi4flash-tiny HF model with one change.
func corrupt(t *testing.T, change func(map[string]formats.Tensor)) string {
	t.Helper()
	m, err := safetensors.OpenModel(filepath.Join(td, "phi4flash-tiny", "hf"))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ts := map[string]formats.Tensor{}
	for _, tn := range m.Tensors {
		ts[tn.Name] = tn
	}
	change(ts)
	dir := t.TempDir()
	var list []formats.Tensor
	for _, tn := range ts {
		list = append(list, tn)
	}
	if _, _, err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), list, safetensors.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	cb, _ := os.ReadFile(filepath.Join(td, "phi4flash-tiny", "hf", "config.json"))
	os.WriteFile(filepath.Join(dir, "config.json"), cb, 0o644)
	return dir
}

func TestImportErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		change func(map[string]formats.Tensor)
		msg    []string
	}{
		{"missing_tensor", func(ts map[string]formats.Tensor) { delete(ts, "model.layers.3.mlp.fc2.weight") },
			[]string{"model.layers.3.mlp.fc2.weight is missing", "[32, 64]"}},
		{"shape_mismatch", func(ts map[string]formats.Tensor) {
			ts["model.layers.2.attn.x_proj.weight"] = testmodel.F32Tensor("model.layers.2.attn.x_proj.weight", []int64{30, 64}, func(int) float32 { return 0 })
		}, []string{"model.layers.2.attn.x_proj.weight has shape [30, 64]", "expects [34, 64]"}},
		{"nan", func(ts map[string]formats.Tensor) {
			ts["model.layers.6.mlp.fc1.weight"] = testmodel.F32Tensor("model.layers.6.mlp.fc1.weight", []int64{128, 32}, func(i int) float32 {
				if i == 77 {
					return float32(math.NaN())
				}
				return 0.5
			})
		}, []string{"model.layers.6.mlp.fc1.weight", "element 77 is not finite"}},
		{"unexpected_tensor", func(ts map[string]formats.Tensor) {
			ts["model.layers.0.mlp.fc1.bias"] = testmodel.F32Tensor("model.layers.0.mlp.fc1.bias", []int64{128}, func(int) float32 { return 0 })
		}, []string{"1 tensor(s) the config does not use", "model.layers.0.mlp.fc1.bias", "_bias"}},
		{"tie_mismatch", func(ts map[string]formats.Tensor) {
			ts["lm_head.weight"] = testmodel.F32Tensor("lm_head.weight", []int64{128, 32}, func(i int) float32 { return float32(i) })
		}, []string{"ties the embeddings", "lm_head.weight", "differ"}},
		{"f8_weight", func(ts map[string]formats.Tensor) {
			ts["model.final_layernorm.bias"] = formats.NewTensorBytes("model.final_layernorm.bias", formats.F8_E4M3, []int64{32}, "mem", make([]byte, 32))
		}, []string{"model.final_layernorm.bias has dtype F8_E4M3"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			src := corrupt(t, c.change)
			out := filepath.Join(t.TempDir(), "out")
			_, err := Import(context.Background(), src, ImportOptions{Output: out})
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrValidation) {
				t.Errorf("%v is not ErrValidation", err)
			}
			for _, s := range c.msg {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not say %q", err, s)
				}
			}
			if entries, _ := os.ReadDir(filepath.Dir(out)); len(entries) != 0 {
				t.Errorf("left %d entries at the output location", len(entries))
			}
		})
	}
}

func TestConfigCannotBeDecided(t *testing.T) {
	src := filepath.Join(td, "sambay-tiny", "archscale-head.pth")
	out := filepath.Join(t.TempDir(), "o")
	// hparams name sambay_d8, a real table entry, but the tiny weights do not fit it.
	_, err := Import(context.Background(), src, ImportOptions{Output: out})
	if err == nil || !errors.Is(err, ErrValidation) || !strings.Contains(err.Error(), "n_embd (embedding columns): file 32, config 992") {
		t.Errorf("table config vs tiny weights: %v", err)
	}
	_, err = Import(context.Background(), src, ImportOptions{Output: out, Config: ConfigOptions{Arch: "nosuch_d8"}})
	if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "sambay_d16") {
		t.Errorf("unknown --arch: %v", err)
	}
	// A bare state dict has no hparams at all.
	_, err = Import(context.Background(), filepath.Join(td, "sambay-tiny", "pytorch_model.bin"), ImportOptions{Output: out})
	if err == nil || !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), "--arch NAME") || !strings.Contains(err.Error(), "--config FILE") {
		t.Errorf("no hparams: %v", err)
	}
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Errorf("output exists after failures")
	}
}

func TestHFConfigRules(t *testing.T) {
	base := func(extra string) []byte {
		return []byte(`{"hidden_size": 64, "num_hidden_layers": 8, "num_attention_heads": 4, "vocab_size": 256, "intermediate_size": 256, "sliding_window": 16` + extra + `}`)
	}
	c, info, err := ParseHFConfig(base(""))
	if err != nil {
		t.Fatal(err)
	}
	if c.NKVHead != 4 || c.MaxPosition != 4096 || !strings.Contains(strings.Join(info.Defaulted, " "), "num_key_value_heads") {
		t.Errorf("absent num_key_value_heads: G=%d (want class default 4), defaulted %v", c.NKVHead, info.Defaulted)
	}
	if c, _, _ := ParseHFConfig(base(`, "num_key_value_heads": null`)); c.NKVHead != 4 || c.NHead != 4 {
		t.Errorf("null num_key_value_heads: G=%d, want H", c.NKVHead)
	}
	if c, _, err := ParseHFConfig(base(`, "num_key_value_heads": 2, "sliding_window": [null, 16, null, 16, null, null, null, null]`)); err != nil || c.Window != 16 {
		t.Errorf("per-layer window list: %v %v", c.Window, err)
	}
	for _, bad := range []struct{ extra, msg string }{
		{`, "mamba_proj_bias": true`, "mamba_proj_bias"},
		{`, "mamba_conv_bias": false`, "mamba_conv_bias"},
		{`, "mamba_dt_rank": 8`, "ceil(hidden_size/16) = 4"},
		{`, "sliding_window": null`, "sliding_window is null"},
		{`, "lm_head_bias": true`, "lm_head_bias"},
		{`, "hidden_act": "gelu"`, "hidden_act"},
		{`, "num_hidden_layers": 6`, "not divisible by 4"},
		{`, "mb_per_layer": 3`, "mb_per_layer"},
		{`, "num_key_value_heads": 3`, "multiple"},
		{`, "layer_types": ["sliding_attention","full_attention"]`, "layer_types[0]"},
	} {
		if _, _, err := ParseHFConfig(base(bad.extra)); err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%s: %v (want %q)", bad.extra, err, bad.msg)
		}
	}
}

func TestArchScaleConfigResolution(t *testing.T) {
	hp := map[string]any{"model_name": "sambayda_d16", "train_config": "sambayda_d16_mup_bias_tie_x", "depth_scale": true,
		"mup": true, "base_hps.d0": int64(8), "swa_len": int64(256)}
	c, log, err := archscaleConfig(hp, "", nil, MuPOverrides{})
	if err != nil {
		t.Fatal(err)
	}
	if c.NEmbd != 124*16 || c.NKVHead != 4 || !c.DiffAttn || c.Window != 256 || !c.MLPBias || !c.QKVBias || !c.Tied {
		t.Errorf("sambayda_d16 + _bias + _tie + swa_len: %+v", c)
	}
	if !c.DepthScale || c.LogitScale != 0.5 || math.Abs(c.AttnScale-1/math.Sqrt(128)) > 1e-12 {
		t.Errorf("μP++ HEAD: depth %v logit %v attn %v", c.DepthScale, c.LogitScale, c.AttnScale)
	}
	if len(log) == 0 {
		t.Error("no resolution log")
	}
	// Paper era (no depth_scale key): "_bias" has no effect, d0 = 16, depth from mup and not original_mup.
	era := map[string]any{"model_name": "sambay_d8", "train_config": "sambay_d8_mup_bias", "mup": true, "original_mup": false}
	c, _, err = archscaleConfig(era, "", nil, MuPOverrides{})
	if err != nil {
		t.Fatal(err)
	}
	if c.MLPBias || !c.DepthScale || c.LogitScale != 2 {
		t.Errorf("paper era: bias %v depth %v logit %v", c.MLPBias, c.DepthScale, c.LogitScale)
	}
	off := false
	if c, _, _ = archscaleConfig(era, "", nil, MuPOverrides{DepthScale: &off}); c.DepthScale {
		t.Error("--depth-scale off ignored")
	}
	for _, bad := range []struct {
		hp  map[string]any
		msg string
	}{
		{map[string]any{"model_name": "sambay_d8", "train_config": "x_qknorm", "depth_scale": false}, `"_qknorm"`},
		{map[string]any{"model_name": "sambayda_d12"}, "even"},
		{map[string]any{"model_name": "sambay_d8", "norm_class": "NoNorm", "depth_scale": false}, "NoNorm"},
	} {
		if _, _, err := archscaleConfig(bad.hp, "", nil, MuPOverrides{}); err == nil || !strings.Contains(err.Error(), bad.msg) {
			t.Errorf("%v: %v (want %q)", bad.hp, err, bad.msg)
		}
	}
}

var _ = reference.RoleMamba

// recomputeContentDigest hashes a safetensors file tensor by tensor, as
// safetensors.ContentDigest defines it.
func recomputeContentDigest(t *testing.T, path string) string {
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var ds [][]byte
	for _, tn := range f.Tensors {
		b, _ := tn.Bytes()
		d := sha256.Sum256(b)
		ds = append(ds, d[:])
	}
	return safetensors.ContentDigest(f.RawHeader(), ds)
}

// TestSourceDigestsDoNotDependOnReuse checks that the source digests taken
// from identical output tensors equal digests computed from the source.
func TestSourceDigestsMatchRecomputation(t *testing.T) {
	res, _ := mustImport(t, filepath.Join(td, "phi4flash-tiny", "hf-sharded"), ImportOptions{})
	for _, f := range res.Manifest.Source.Files {
		if f.Digest == "safetensors-content" {
			if got := recomputeContentDigest(t, f.Name); got != f.SHA256 {
				t.Errorf("%s: manifest %s, recomputed %s", f.Name, f.SHA256, got)
			}
		}
	}
}

// TestLitConfigForHFLayout: a lit_gpt --config given for an HF-layout source
// is used (not silently replaced by the config.json beside the weights).
func TestLitConfigForHFLayout(t *testing.T) {
	res, _ := mustImport(t, filepath.Join(td, "sambay-tiny", "hf"), ImportOptions{
		Config: ConfigOptions{ConfigFile: filepath.Join(td, "sambay-tiny", "litgpt-config.json")}})
	if res.Manifest.ConfigFrom != "lit_gpt config file" {
		t.Errorf("config from %q", res.Manifest.ConfigFrom)
	}
	// No hparams: μP++ off, unlike the HF config.json, which records it.
	if res.Config.DepthScale {
		t.Error("depth scaling without hparams or config")
	}
}
