package convert

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/sambay-conv/sambay-conv/reference"
)

// litConfig holds lit_gpt Config fields (AS lit_gpt/config.py) by name.
type litConfig map[string]any

func (l litConfig) int(k string, def int) int {
	switch v := l[k].(type) {
	case int:
		return v
	case int64:
		return int(v)
	case float64:
		return int(v)
	}
	return def
}

func (l litConfig) bool(k string) bool {
	switch v := l[k].(type) {
	case bool:
		return v
	case int, int64, float64:
		return l.int(k, 0) != 0
	case string:
		return v != ""
	}
	return false
}

func (l litConfig) str(k, def string) string {
	if v, ok := l[k].(string); ok {
		return v
	}
	return def
}

// ArchNames lists the built-in ArchScale configurations (AS config.py
// 864–935; docs/MODEL.md §1.3 table).
func ArchNames() []string {
	var out []string
	for _, d := range []int{8, 12, 16, 20, 24} {
		out = append(out, fmt.Sprintf("sambay_d%d", d))
	}
	for _, d := range []int{8, 12, 16, 20, 24} {
		out = append(out, fmt.Sprintf("sambayda_d%d", d))
	}
	for _, d := range []int{8, 12, 16, 20, 24} {
		out = append(out, fmt.Sprintf("sambayoco_d%d", d))
	}
	return append(out, "phi4miniflash_d32")
}

var archRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^(sambay|sambayda|sambayoco)_d(\d+)$`) })

// archTable returns the lit_gpt fields of a built-in configuration.
func archTable(name string) (litConfig, bool) {
	base := litConfig{
		"name": name, "vocab_size": 32000, "padding_multiple": 64, "block_size": 4096,
		"rnn_per_layer": 2, "rnn_type": "mamba", "yoco": true, "nope": true, "mlp": true, "fa2": true,
		"gmu_yoco": true, "gmu_per_layer": 2, "mlp_expand": 4, "_norm_class": "FusedRMSNorm",
		"norm_eps": 1e-5, "local_window": 128, "head_dim": 128, "mup_d0": 16, "mup_hd0": 128,
	}
	if name == "phi4miniflash_d32" {
		for k, v := range (litConfig{
			"n_layer": 32, "ar": 80, "n_head": 40, "n_query_groups": 20, "head_dim": 64,
			"local_window": 512, "_norm_class": "LayerNorm", "attn_bias": true, "attn_out_bias": true,
			"use_da": true, "tied_embed": true, "vocab_size": 200064, "block_size": 8192,
		}) {
			base[k] = v
		}
		return base, true
	}
	m := archRe().FindStringSubmatch(name)
	if m == nil {
		return nil, false
	}
	d, _ := strconv.Atoi(m[2])
	if d != 8 && d != 12 && d != 16 && d != 20 && d != 24 {
		return nil, false
	}
	base["n_layer"], base["n_head"], base["n_query_groups"], base["ar"] = d, d, d/4, 124
	switch m[1] {
	case "sambayda":
		base["use_da"] = true
	case "sambayoco":
		base["ar"], base["gmu_yoco"] = 126, false
	}
	return base, true
}

// outOfFamily lists lit_gpt switches that leave the SambaY family (docs/MODEL.md
// §1.1 rule 3); a true value is refused by name.
var outOfFamily = []string{"add_sink", "gmu_attn", "gmu_mlp", "yoco_window", "ada_rope", "sink_attn",
	"use_sigmoid", "gated_attn", "qk_norm", "attn_norm", "sc_attn", "relu2", "mlp_relu2", "moe",
	"post_norm", "decouple_postnorm", "skip_gain", "no_skip", "sum_skip", "lc", "scale_embed",
	"jamba_norm", "ffn_norm", "oss_swiglu", "full_swa_extend"}

// MuPOverrides override the μP++ multipliers read from a checkpoint.
type MuPOverrides struct {
	MuP        *bool
	DepthScale *bool
	D0         *int
	MuonH      *bool
	AttnScale  *float64 // final attention scale
}

// litToCanonical derives the canonical config from lit_gpt fields (after
// table lookup and overrides), refusing everything outside the family.
func litToCanonical(l litConfig, explicit map[string]bool) (reference.Config, error) {
	var errs []error
	L := l.int("n_layer", 0)
	E := l.int("n_embd", 0)
	if ar := l.int("ar", 0); ar > 0 && !explicit["n_embd"] {
		E = ar * L // AS config.py 139–141
	}
	I := l.int("intermediate_size", 0)
	if ar := l.int("ar", 0); ar > 0 && !explicit["intermediate_size"] {
		I = l.int("mlp_expand", 4) * E
	}
	H := l.int("n_head", 0)
	G := l.int("n_query_groups", H)
	hd := l.int("head_dim", 0)
	if hd == 0 && H > 0 {
		hd = E / H
	}
	V := l.int("padded_vocab_size", 0)
	if V == 0 || !explicit["padded_vocab_size"] {
		v, pm := l.int("vocab_size", 0), l.int("padding_multiple", 64)
		if pm <= 0 {
			pm = 1
		}
		V = (v + pm - 1) / pm * pm // find_multiple, AS config.py 128–129
	}
	c := reference.Config{
		NLayer: L, NEmbd: E, NHead: H, NKVHead: G, HeadDim: hd, Intermediate: I, VocabSize: V,
		Window: l.int("local_window", -1), DState: 16, DConv: 4, Expand: 2, DtRank: (E + 15) / 16,
		NormEps: 1e-5, DiffAttn: l.bool("use_da"), DAConstLamb: l.bool("da_const_lamb"),
		QKVBias: l.bool("attn_bias"), AttnOutBias: l.bool("attn_out_bias"), MLPBias: l.bool("bias"),
		Tied: l.bool("tied_embed"), GMU: true, MaxPosition: l.int("block_size", 0),
	}
	if v, ok := l["norm_eps"].(float64); ok {
		c.NormEps = v
	}
	if _, ok := l["gmu_yoco"]; ok {
		c.GMU = l.bool("gmu_yoco")
	}
	switch n := l.str("_norm_class", l.str("norm_class", "FusedRMSNorm")); n {
	case "LayerNorm":
		c.Norm = reference.LayerNorm
	case "FusedRMSNorm", "RMSNorm":
		c.Norm = reference.RMSNorm
	default:
		errs = append(errs, fmt.Errorf("norm class %q is not supported (LayerNorm, FusedRMSNorm or RMSNorm)", n))
	}
	if v, ok := l["rnn_type"]; ok && v != "mamba" {
		errs = append(errs, fmt.Errorf("rnn_type = %v: only mamba is in the SambaY family", v))
	}
	for _, k := range []string{"yoco", "nope", "mlp", "fa2"} {
		if v, ok := l[k]; ok && !l.bool(k) {
			errs = append(errs, fmt.Errorf("%s = %v: outside the SambaY family", k, v))
		}
	}
	if v := l.int("rnn_per_layer", 2); v != 2 {
		errs = append(errs, fmt.Errorf("rnn_per_layer = %d: only 2 is supported", v))
	}
	if v := l.int("gmu_per_layer", 2); v != 2 {
		errs = append(errs, fmt.Errorf("gmu_per_layer = %d: only 2 is supported", v))
	}
	if v, ok := l["full_per_layer"]; ok && l.int("full_per_layer", 0) <= L/2 {
		errs = append(errs, fmt.Errorf("full_per_layer = %v makes self-decoder attention global: outside the SambaY family", v))
	}
	for _, k := range []string{"skip_weight_per_layer", "share_per_layer"} {
		if l.int(k, 0) > 0 {
			errs = append(errs, fmt.Errorf("%s = %d: outside the SambaY family", k, l.int(k, 0)))
		}
	}
	for _, k := range outOfFamily {
		if l.bool(k) {
			errs = append(errs, fmt.Errorf("%s is set: outside the SambaY family", k))
		}
	}
	// μP++ (docs/MODEL.md §4.11).
	mup := l.bool("mup")
	c.DepthScale = l.bool("depth_scale")
	c.AttnScale = c.DefaultAttnScale()
	if v, ok := l["attn_scale"].(float64); ok && v > 0 {
		c.AttnScale = v
	}
	if mup && hd > 0 {
		c.AttnScale *= math.Sqrt(float64(l.int("mup_hd0", 128))) / math.Sqrt(float64(hd))
	}
	c.LogitScale = 1
	if mup && !l.bool("use_muonh") && L > 0 {
		c.LogitScale = float64(l.int("mup_d0", 16)) / float64(L)
	}
	if len(errs) > 0 {
		return c, joinErrs(errs)
	}
	return c, nil
}

// ReadLitConfig parses a lit_gpt Config JSON file: field names as in
// lit_gpt/config.py. A "name" of the built-in table supplies defaults;
// fields given explicitly win over it.
func ReadLitConfig(data []byte) (litConfig, map[string]bool, error) {
	var raw map[string]any
	if err := json.Unmarshal(data, &raw); err != nil || raw == nil {
		return nil, nil, fmt.Errorf("not a JSON object of lit_gpt Config fields")
	}
	explicit := map[string]bool{}
	l := litConfig{}
	if name, ok := raw["name"].(string); ok && name != "" {
		if base, ok := archTable(name); ok {
			l = base
		}
	}
	for k, v := range raw {
		if k == "norm_class" {
			k = "_norm_class"
		}
		l[k] = v
		explicit[k] = true
	}
	return l, explicit, nil
}

// archscaleConfig resolves the config of an ArchScale checkpoint (docs/MODEL.md
// §1.3): a lit_gpt file (litFile, replaces table and hparams
// rules), else --arch, else hparams["model_name"]; then the hparams
// patches; μP++ from hparams unless the file sets it; then overrides.
func archscaleConfig(hp map[string]any, arch string, litFile []byte, ov MuPOverrides) (reference.Config, []string, error) {
	var log []string
	var l litConfig
	explicit := map[string]bool{}
	trainConfig := hpStr(hp, "train_config")
	if trainConfig == "" {
		trainConfig = hpStr(hp, "train_name")
	}
	head := hp != nil && hp["depth_scale"] != nil
	switch {
	case litFile != nil:
		var err error
		if l, explicit, err = ReadLitConfig(litFile); err != nil {
			return reference.Config{}, log, fmt.Errorf("%w: --config: %w", ErrConfig, err)
		}
		log = append(log, "lit_gpt config file")
	case arch != "":
		base, ok := archTable(arch)
		if !ok {
			return reference.Config{}, log, fmt.Errorf("%w: unknown --arch %q; known: %s", ErrConfig, arch, strings.Join(ArchNames(), ", "))
		}
		l = base
		log = append(log, "--arch "+arch)
	default:
		name := hpStr(hp, "model_name")
		base, ok := archTable(name)
		if !ok {
			why := "the checkpoint's hparams have no model_name"
			if name != "" {
				why = fmt.Sprintf("hparams model_name %q is not a built-in configuration", name)
			}
			return reference.Config{}, log, fmt.Errorf("%w: cannot decide the architecture: %s; pass --arch NAME (one of %s) or --config FILE (lit_gpt Config fields as JSON)",
				ErrConfig, why, strings.Join(ArchNames(), ", "))
		}
		l = base
		log = append(log, "hparams model_name "+name)
	}
	if litFile == nil && hp != nil {
		if err := patchFromHparams(l, explicit, hp, trainConfig, head, &log); err != nil {
			return reference.Config{}, log, err
		}
	}
	// μP++ from hparams unless the config file states it (never from a path, trap 13).
	if hp != nil {
		if !explicit["mup"] {
			if v, ok := hp["mup"]; ok {
				l["mup"] = v
			}
		}
		if !explicit["depth_scale"] {
			if v, ok := hp["depth_scale"]; ok {
				l["depth_scale"] = v
			} else {
				l["depth_scale"] = l.bool("mup") && !hpBool(hp, "original_mup")
			}
		}
		if !explicit["mup_d0"] {
			if v, ok := hp["base_hps.d0"]; ok {
				l["mup_d0"] = v
			} else if head {
				l["mup_d0"] = 8 // AS pretrain.py 85
			}
		}
		if !explicit["mup_hd0"] {
			if v, ok := hp["base_hps.hd0"]; ok {
				l["mup_hd0"] = v
			}
		}
		if !explicit["use_muonh"] && strings.Contains(trainConfig, "muonh") {
			l["use_muonh"] = true
		}
	}
	if ov.MuP != nil {
		l["mup"] = *ov.MuP
	}
	if ov.DepthScale != nil {
		l["depth_scale"] = *ov.DepthScale
	}
	if ov.D0 != nil {
		l["mup_d0"] = *ov.D0
	}
	if ov.MuonH != nil {
		l["use_muonh"] = *ov.MuonH
	}
	c, err := litToCanonical(l, explicit)
	if err != nil {
		return c, log, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	if ov.AttnScale != nil {
		c.AttnScale = *ov.AttnScale
	}
	if l.bool("mup") {
		log = append(log, fmt.Sprintf("μP++: depth_scale=%v logit_scale=%g attn_scale=%g", c.DepthScale, c.LogitScale, c.AttnScale))
	}
	if err := c.Validate(); err != nil {
		return c, log, fmt.Errorf("%w: %w", ErrConfig, err)
	}
	return c, log, nil
}

var swaRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`_swa(\d+)`) })
var ctxRe = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`_ctx(\d+)`) })

// patchFromHparams applies the hparams rules of docs/MODEL.md §1.3 in order.
func patchFromHparams(l litConfig, explicit map[string]bool, hp map[string]any, tc string, head bool, log *[]string) error {
	set := func(k string, v any, why string) {
		l[k] = v
		explicit[k] = true
		*log = append(*log, fmt.Sprintf("%s = %v (%s)", k, v, why))
	}
	if v, ok := hpInt(hp, "seq_len"); ok {
		set("block_size", v, "hparams seq_len")
	}
	if head && strings.Contains(tc, "validation") {
		ckpt := hpStr(hp, "ckpt_dir")
		if m := swaRe().FindStringSubmatch(ckpt); m != nil {
			n, _ := strconv.Atoi(m[1])
			set("local_window", n, "ckpt_dir "+m[0])
		}
		if m := ctxRe().FindStringSubmatch(ckpt); m != nil {
			n, _ := strconv.Atoi(m[1])
			set("block_size", n, "ckpt_dir "+m[0])
		}
	}
	for _, k := range []string{"swa_len", "local_window"} {
		if v, ok := hpInt(hp, k); ok {
			set("local_window", v, "hparams "+k)
			break
		}
	}
	if v, ok := hpInt(hp, "ar"); ok && head {
		set("ar", v, "hparams ar")
		delete(explicit, "n_embd")
		delete(explicit, "intermediate_size")
	}
	if head {
		if v := hpStr(hp, "norm_class"); v != "" {
			set("_norm_class", v, "hparams norm_class")
		}
		if strings.Contains(tc, "_bias") {
			for _, k := range []string{"attn_bias", "attn_out_bias", "bias"} {
				set(k, true, `train_config contains "_bias"`)
			}
		}
		if hpBool(hp, "post_norm") {
			return fmt.Errorf("%w: hparams post_norm is set: outside the SambaY family", ErrConfig)
		}
		for _, s := range []string{"_lc", "postnorm_decouple", "_skipgain", "_qknorm", "_anorm", "_fnorm", "_ga_", "_noskip"} {
			if strings.Contains(tc, s) {
				return fmt.Errorf("%w: train_config %q contains %q: outside the SambaY family", ErrConfig, tc, s)
			}
		}
		if strings.Contains(hpStr(hp, "model_name"), "_moe") {
			return fmt.Errorf("%w: model_name %q is a mixture-of-experts model: outside the SambaY family", ErrConfig, hpStr(hp, "model_name"))
		}
	}
	if strings.Contains(tc, "_tie") {
		set("tied_embed", true, `train_config contains "_tie"`)
	}
	return nil
}

func hpStr(hp map[string]any, k string) string {
	s, _ := hp[k].(string)
	return s
}

func hpBool(hp map[string]any, k string) bool {
	b, _ := hp[k].(bool)
	return b
}

func hpInt(hp map[string]any, k string) (int, bool) {
	switch v := hp[k].(type) {
	case int64:
		return int(v), true
	case int:
		return v, true
	case float64:
		if v == math.Trunc(v) {
			return int(v), true
		}
	}
	return 0, false
}
