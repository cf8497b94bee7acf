package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"

	"github.com/sambay-conv/sambay-conv/reference"
)

// phi4FlashDefaults are the Phi4FlashConfig class defaults
// (configuration_phi4flash.py 94–121). HF applies them to every key a
// config.json omits, and so do we (docs/MODEL.md §1.1 rule 1): they are not
// the released model's values.
var phi4FlashDefaults = map[string]any{
	"vocab_size": 51200, "hidden_size": 2560, "intermediate_size": 9216, "num_hidden_layers": 32,
	"num_attention_heads": 40, "num_key_value_heads": 4, "hidden_act": "silu",
	"max_position_embeddings": 4096, "layer_norm_eps": 1e-5, "tie_word_embeddings": true,
	"bos_token_id": 1, "eos_token_id": 2, "sliding_window": 2047, "mb_per_layer": 2,
	"mamba_d_state": 16, "mamba_d_conv": 4, "mamba_expand": 2, "mamba_dt_rank": "auto",
	"mamba_conv_bias": true, "mamba_proj_bias": false, "mlp_bias": false, "lm_head_bias": false,
}

// HFConfigInfo reports how a config.json was read.
type HFConfigInfo struct {
	Defaulted []string       // keys taken from the class defaults
	Raw       map[string]any // the document as parsed
	Extended  bool           // it carries sambay_* keys
}

type jsonDoc map[string]json.RawMessage

func (d jsonDoc) has(k string) bool {
	v, ok := d[k]
	return ok && string(bytes.TrimSpace(v)) != "null"
}

func (d jsonDoc) isNull(k string) bool {
	v, ok := d[k]
	return ok && string(bytes.TrimSpace(v)) == "null"
}

func (d jsonDoc) int(k string, info *HFConfigInfo) (int, error) {
	if !d.has(k) {
		info.Defaulted = append(info.Defaulted, k)
		return phi4FlashDefaults[k].(int), nil
	}
	var f float64
	if err := json.Unmarshal(d[k], &f); err != nil || f != math.Trunc(f) || math.Abs(f) > 1<<40 {
		return 0, fmt.Errorf("%s = %s is not an integer", k, d[k])
	}
	return int(f), nil
}

func (d jsonDoc) bool(k string, info *HFConfigInfo) (bool, error) {
	if !d.has(k) {
		info.Defaulted = append(info.Defaulted, k)
		return phi4FlashDefaults[k].(bool), nil
	}
	var b bool
	if err := json.Unmarshal(d[k], &b); err != nil {
		return false, fmt.Errorf("%s = %s is not a boolean", k, d[k])
	}
	return b, nil
}

func (d jsonDoc) float(k string, def float64) (float64, error) {
	if !d.has(k) {
		return def, nil
	}
	var f float64
	if err := json.Unmarshal(d[k], &f); err != nil {
		return 0, fmt.Errorf("%s = %s is not a number", k, d[k])
	}
	return f, nil
}

func (d jsonDoc) str(k string, def string) (string, error) {
	if !d.has(k) {
		return def, nil
	}
	var s string
	if err := json.Unmarshal(d[k], &s); err != nil {
		return "", fmt.Errorf("%s = %s is not a string", k, d[k])
	}
	return s, nil
}

// ParseHFConfig reads a Phi4Flash config.json (with or without the sambay_*
// extension keys of docs/MODEL.md §1.4) into the canonical config, applying
// the class defaults to every omitted key and refusing what HF would
// silently ignore (docs/MODEL.md §1.1 rule 3).
func ParseHFConfig(data []byte) (reference.Config, *HFConfigInfo, error) {
	var doc jsonDoc
	info := &HFConfigInfo{}
	if err := json.Unmarshal(data, &doc); err != nil || doc == nil {
		return reference.Config{}, nil, fmt.Errorf("config.json is not a JSON object")
	}
	json.Unmarshal(data, &info.Raw)
	var errs []error
	geti := func(k string) int {
		v, err := doc.int(k, info)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	getb := func(k string) bool {
		v, err := doc.bool(k, info)
		if err != nil {
			errs = append(errs, err)
		}
		return v
	}
	c := reference.Config{GMU: true}
	c.VocabSize = geti("vocab_size")
	c.NEmbd = geti("hidden_size")
	c.Intermediate = geti("intermediate_size")
	c.NLayer = geti("num_hidden_layers")
	c.NHead = geti("num_attention_heads")
	if doc.isNull("num_key_value_heads") {
		c.NKVHead = c.NHead // configuration_phi4flash.py 130–131
	} else {
		c.NKVHead = geti("num_key_value_heads")
	}
	c.MaxPosition = geti("max_position_embeddings")
	c.DState = geti("mamba_d_state")
	c.DConv = geti("mamba_d_conv")
	c.Expand = geti("mamba_expand")
	c.Tied = getb("tie_word_embeddings")
	if mb := geti("mb_per_layer"); mb != 2 {
		errs = append(errs, fmt.Errorf("mb_per_layer = %d: only 2 (alternating Mamba and attention) is supported", mb))
	}
	if act, err := doc.str("hidden_act", "silu"); err != nil || act != "silu" {
		errs = append(errs, fmt.Errorf("hidden_act = %q: only silu is supported", act))
	}
	if !doc.has("hidden_act") {
		info.Defaulted = append(info.Defaulted, "hidden_act")
	}
	eps, err := doc.float("layer_norm_eps", 1e-5)
	if err != nil {
		errs = append(errs, err)
	}
	if !doc.has("layer_norm_eps") {
		info.Defaulted = append(info.Defaulted, "layer_norm_eps")
	}
	c.NormEps = eps
	if !getb("mamba_conv_bias") {
		errs = append(errs, fmt.Errorf("mamba_conv_bias = false: HF ignores it and always builds the conv bias, so the file does not describe the model HF runs"))
	}
	if getb("mamba_proj_bias") {
		errs = append(errs, fmt.Errorf("mamba_proj_bias = true: HF ignores it and never builds Mamba projection biases"))
	}
	if getb("lm_head_bias") {
		errs = append(errs, fmt.Errorf("lm_head_bias = true: the head never has a bias"))
	}
	// Window: int, per-layer list (the class's expansion), or null (refused).
	switch {
	case doc.isNull("sliding_window"):
		errs = append(errs, fmt.Errorf("sliding_window is null: SambaY needs a sliding window (HF cannot build its cache without one)"))
	case !doc.has("sliding_window"):
		info.Defaulted = append(info.Defaulted, "sliding_window")
		c.Window = 2047
	default:
		var w int
		var list []*int
		if json.Unmarshal(doc["sliding_window"], &w) == nil {
			c.Window = w
		} else if json.Unmarshal(doc["sliding_window"], &list) == nil {
			for _, v := range list {
				if v != nil {
					if c.Window != 0 && *v != c.Window {
						errs = append(errs, fmt.Errorf("sliding_window list holds different windows %d and %d", c.Window, *v))
					}
					c.Window = *v
				}
			}
		} else {
			errs = append(errs, fmt.Errorf("sliding_window = %s is neither an integer nor a list", doc["sliding_window"]))
		}
	}
	// dt rank: "auto" or an integer that must equal ceil(E/16) (HF ignores it).
	c.DtRank = (c.NEmbd + 15) / 16
	if doc.has("mamba_dt_rank") {
		var s string
		var r float64
		if json.Unmarshal(doc["mamba_dt_rank"], &s) == nil {
			if s != "auto" {
				errs = append(errs, fmt.Errorf("mamba_dt_rank = %q (want \"auto\" or an integer)", s))
			}
		} else if json.Unmarshal(doc["mamba_dt_rank"], &r) == nil {
			if int(r) != c.DtRank {
				errs = append(errs, fmt.Errorf("mamba_dt_rank = %v, but HF's Mamba always uses ceil(hidden_size/16) = %d", r, c.DtRank))
			}
		}
	} else {
		info.Defaulted = append(info.Defaulted, "mamba_dt_rank")
	}
	// Extension keys (docs/MODEL.md §1.4).
	info.Extended = false
	for k := range doc {
		if len(k) > 7 && k[:7] == "sambay_" {
			info.Extended = true
		}
	}
	c.HeadDim = 0
	if doc.has("head_dim") {
		c.HeadDim = geti("head_dim")
	} else if c.NHead > 0 {
		if c.NEmbd%c.NHead != 0 {
			errs = append(errs, fmt.Errorf("hidden_size %d is not divisible by num_attention_heads %d and there is no head_dim", c.NEmbd, c.NHead))
		}
		c.HeadDim = c.NEmbd / c.NHead
	}
	c.Norm, c.DiffAttn, c.QKVBias, c.AttnOutBias, c.MLPBias = reference.LayerNorm, true, true, true, false
	mlpBias := getb("mlp_bias")
	if info.Extended {
		get := func(k string, dst *bool) {
			if doc.has(k) {
				if err := json.Unmarshal(doc[k], dst); err != nil {
					errs = append(errs, fmt.Errorf("%s = %s is not a boolean", k, doc[k]))
				}
			}
		}
		nt, err := doc.str("sambay_norm_type", "layernorm")
		if err != nil {
			errs = append(errs, err)
		}
		c.Norm = reference.NormType(nt)
		get("sambay_diff_attn", &c.DiffAttn)
		get("sambay_diff_attn_const_lambda", &c.DAConstLamb)
		get("sambay_qkv_bias", &c.QKVBias)
		get("sambay_attn_out_bias", &c.AttnOutBias)
		get("sambay_mlp_bias", &c.MLPBias)
		gmu := true
		get("sambay_gmu", &gmu)
		c.GMU = gmu
	} else if mlpBias {
		errs = append(errs, fmt.Errorf("mlp_bias = true: the HF Phi4Flash MLP never has a bias (use sambay_mlp_bias in an extended config)"))
	}
	c.AttnScale = 0
	if c.HeadDim > 0 {
		c.AttnScale = c.DefaultAttnScale()
	}
	if v, err := doc.float("sambay_attn_scale", c.AttnScale); err != nil {
		errs = append(errs, err)
	} else {
		c.AttnScale = v
	}
	rs, err := doc.float("sambay_residual_scale", 1)
	if err != nil {
		errs = append(errs, err)
	}
	if rs != 1 {
		c.DepthScale = true
		if want := c.ResidualScale(); math.Abs(rs-want) > 1e-6*want {
			errs = append(errs, fmt.Errorf("sambay_residual_scale = %v, but depth scaling gives 1/sqrt(2L) = %v", rs, want))
		}
	}
	if c.LogitScale, err = doc.float("sambay_logit_scale", 1); err != nil {
		errs = append(errs, err)
	}
	// layer_types, when present, must agree with the SWA layers (rule 2).
	if doc.has("layer_types") {
		var lt []string
		if err := json.Unmarshal(doc["layer_types"], &lt); err != nil {
			errs = append(errs, fmt.Errorf("layer_types is not a list of strings"))
		} else if len(errs) == 0 {
			for i, t := range lt {
				if (t == "sliding_attention") != (i < c.NLayer && c.Role(i) == reference.RoleSWA) {
					errs = append(errs, fmt.Errorf("layer_types[%d] = %q disagrees with the SambaY layout (layer %d is %v)", i, t, i, c.Role(i)))
					break
				}
			}
		}
	}
	if len(errs) == 0 {
		if err := c.Validate(); err != nil {
			errs = append(errs, err)
		}
	}
	sort.Strings(info.Defaulted)
	if len(errs) > 0 {
		return c, info, joinErrs(errs)
	}
	return c, info, nil
}

// HFConfigJSON returns the config.json of docs/MODEL.md §1.4 for c: a valid
// Phi4Flash config with the Mamba keys spelled out, and — when c is not
// expressible in Phi4Flash terms — head_dim and the sambay_* keys, with
// sambay_hf_compatible false. extra supplies token ids and auto_map copied
// from the source config (may be nil); source describes provenance.
func HFConfigJSON(c *reference.Config, extra map[string]any, source map[string]any) []byte {
	type kv struct {
		k string
		v any
	}
	kvs := []kv{
		{"architectures", []string{"Phi4FlashForCausalLM"}},
		{"model_type", "phi4flash"},
	}
	if am, ok := extra["auto_map"]; ok {
		kvs = append(kvs, kv{"auto_map", am})
	}
	kvs = append(kvs,
		kv{"hidden_size", c.NEmbd}, kv{"intermediate_size", c.Intermediate},
		kv{"num_hidden_layers", c.NLayer}, kv{"num_attention_heads", c.NHead},
		kv{"num_key_value_heads", c.NKVHead}, kv{"vocab_size", c.VocabSize},
		kv{"sliding_window", c.Window}, kv{"max_position_embeddings", c.MaxPosition},
		kv{"layer_norm_eps", c.NormEps}, kv{"tie_word_embeddings", c.Tied},
		kv{"hidden_act", "silu"}, kv{"mb_per_layer", 2}, kv{"torch_dtype", "bfloat16"},
		kv{"mlp_bias", false}, kv{"lm_head_bias", false},
		kv{"mamba_d_state", c.DState}, kv{"mamba_d_conv", c.DConv}, kv{"mamba_expand", c.Expand},
		kv{"mamba_dt_rank", c.DtRank}, kv{"mamba_conv_bias", true}, kv{"mamba_proj_bias", false},
	)
	for _, k := range []string{"bos_token_id", "eos_token_id", "pad_token_id"} {
		if v, ok := extra[k]; ok {
			kvs = append(kvs, kv{k, v})
		}
	}
	if !c.HFCompatible() {
		if c.QDim() != c.NEmbd {
			kvs = append(kvs, kv{"head_dim", c.HeadDim})
		}
		kvs = append(kvs,
			kv{"sambay_norm_type", string(c.Norm)}, kv{"sambay_diff_attn", c.DiffAttn})
		if c.DAConstLamb {
			kvs = append(kvs, kv{"sambay_diff_attn_const_lambda", true})
		}
		if !c.GMU {
			kvs = append(kvs, kv{"sambay_gmu", false})
		}
		kvs = append(kvs,
			kv{"sambay_qkv_bias", c.QKVBias}, kv{"sambay_attn_out_bias", c.AttnOutBias},
			kv{"sambay_mlp_bias", c.MLPBias}, kv{"sambay_attn_scale", c.AttnScale},
			kv{"sambay_residual_scale", c.ResidualScale()}, kv{"sambay_logit_scale", c.LogitScale})
	}
	if source != nil {
		kvs = append(kvs, kv{"sambay_source", source})
	}
	kvs = append(kvs, kv{"sambay_hf_compatible", c.HFCompatible()})
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, e := range kvs {
		kb, _ := json.Marshal(e.k)
		vb, _ := json.Marshal(e.v)
		fmt.Fprintf(&b, "  %s: %s", kb, vb)
		if i < len(kvs)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes()
}
