package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"

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
	p := &hfParser{info: &HFConfigInfo{}, c: reference.Config{GMU: true}}
	if err := json.Unmarshal(data, &p.doc); err != nil || p.doc == nil {
		return reference.Config{}, nil, fmt.Errorf("config.json is not a JSON object")
	}
	json.Unmarshal(data, &p.info.Raw) // an object, as the line above checked
	p.sizes()
	p.fixedKeys()
	p.window()
	p.dtRank()
	p.extension()
	p.scales()
	p.layerTypes()
	c := p.c
	if len(p.errs) == 0 {
		if err := c.Validate(); err != nil {
			p.errs = append(p.errs, err)
		}
	}
	sort.Strings(p.info.Defaulted)
	if len(p.errs) > 0 {
		return c, p.info, joinErrs(p.errs)
	}
	return c, p.info, nil
}

// hfParser collects the config and every problem of one config.json.
type hfParser struct {
	doc  jsonDoc
	info *HFConfigInfo
	c    reference.Config
	errs []error
}

func (p *hfParser) fail(format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf(format, args...))
}

func (p *hfParser) geti(k string) int {
	v, err := p.doc.int(k, p.info)
	if err != nil {
		p.errs = append(p.errs, err)
	}
	return v
}

func (p *hfParser) getb(k string) bool {
	v, err := p.doc.bool(k, p.info)
	if err != nil {
		p.errs = append(p.errs, err)
	}
	return v
}

// sizes reads the model's dimensions (class defaults for absent keys).
func (p *hfParser) sizes() {
	c := &p.c
	c.VocabSize = p.geti("vocab_size")
	c.NEmbd = p.geti("hidden_size")
	c.Intermediate = p.geti("intermediate_size")
	c.NLayer = p.geti("num_hidden_layers")
	c.NHead = p.geti("num_attention_heads")
	if p.doc.isNull("num_key_value_heads") {
		c.NKVHead = c.NHead // configuration_phi4flash.py 130–131
	} else {
		c.NKVHead = p.geti("num_key_value_heads")
	}
	c.MaxPosition = p.geti("max_position_embeddings")
	c.DState = p.geti("mamba_d_state")
	c.DConv = p.geti("mamba_d_conv")
	c.Expand = p.geti("mamba_expand")
	c.Tied = p.getb("tie_word_embeddings")
}

// fixedKeys checks the keys HF reads but SambaY fixes, and the ones HF
// ignores (a value other than what HF builds is refused).
func (p *hfParser) fixedKeys() {
	doc, info := p.doc, p.info
	if mb := p.geti("mb_per_layer"); mb != 2 {
		p.fail("mb_per_layer = %d: only 2 (alternating Mamba and attention) is supported", mb)
	}
	if act, err := doc.str("hidden_act", "silu"); err != nil || act != "silu" {
		p.fail("hidden_act = %q: only silu is supported", act)
	}
	if !doc.has("hidden_act") {
		info.Defaulted = append(info.Defaulted, "hidden_act")
	}
	eps, err := doc.float("layer_norm_eps", 1e-5)
	if err != nil {
		p.errs = append(p.errs, err)
	}
	if !doc.has("layer_norm_eps") {
		info.Defaulted = append(info.Defaulted, "layer_norm_eps")
	}
	p.c.NormEps = eps
	if !p.getb("mamba_conv_bias") {
		p.fail("mamba_conv_bias = false: HF ignores it and always builds the conv bias, so the file does not describe the model HF runs")
	}
	if p.getb("mamba_proj_bias") {
		p.fail("mamba_proj_bias = true: HF ignores it and never builds Mamba projection biases")
	}
	if p.getb("lm_head_bias") {
		p.fail("lm_head_bias = true: the head never has a bias")
	}
}

// window reads sliding_window: an int, a per-layer list (the class's
// expansion), or null (refused).
func (p *hfParser) window() {
	c, doc := &p.c, p.doc
	switch {
	case doc.isNull("sliding_window"):
		p.fail("sliding_window is null: SambaY needs a sliding window (HF cannot build its cache without one)")
	case !doc.has("sliding_window"):
		p.info.Defaulted = append(p.info.Defaulted, "sliding_window")
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
						p.fail("sliding_window list holds different windows %d and %d", c.Window, *v)
					}
					c.Window = *v
				}
			}
		} else {
			p.fail("sliding_window = %s is neither an integer nor a list", doc["sliding_window"])
		}
	}
}

// dtRank checks mamba_dt_rank: "auto" or an integer that must equal
// ceil(E/16), the only rank HF's Mamba uses.
func (p *hfParser) dtRank() {
	c, doc := &p.c, p.doc
	c.DtRank = (c.NEmbd + 15) / 16
	if !doc.has("mamba_dt_rank") {
		p.info.Defaulted = append(p.info.Defaulted, "mamba_dt_rank")
		return
	}
	var s string
	var r float64
	if json.Unmarshal(doc["mamba_dt_rank"], &s) == nil {
		if s != "auto" {
			p.fail("mamba_dt_rank = %q (want \"auto\" or an integer)", s)
		}
	} else if json.Unmarshal(doc["mamba_dt_rank"], &r) == nil {
		if int(r) != c.DtRank {
			p.fail("mamba_dt_rank = %v, but HF's Mamba always uses ceil(hidden_size/16) = %d", r, c.DtRank)
		}
	}
}

// extension reads head_dim and the sambay_* keys (docs/MODEL.md §1.4);
// without them the model is Phi4Flash: LayerNorm, DA, q/k/v and output
// biases, no MLP bias.
func (p *hfParser) extension() {
	c, doc := &p.c, p.doc
	p.info.Extended = false
	for k := range doc {
		if len(k) > len("sambay_") && strings.HasPrefix(k, "sambay_") {
			p.info.Extended = true
		}
	}
	c.HeadDim = 0
	if doc.has("head_dim") {
		c.HeadDim = p.geti("head_dim")
	} else if c.NHead > 0 {
		if c.NEmbd%c.NHead != 0 {
			p.fail("hidden_size %d is not divisible by num_attention_heads %d and there is no head_dim", c.NEmbd, c.NHead)
		}
		c.HeadDim = c.NEmbd / c.NHead
	}
	c.Norm, c.DiffAttn, c.QKVBias, c.AttnOutBias, c.MLPBias = reference.LayerNorm, true, true, true, false
	mlpBias := p.getb("mlp_bias")
	if !p.info.Extended {
		if mlpBias {
			p.fail("mlp_bias = true: the HF Phi4Flash MLP never has a bias (use sambay_mlp_bias in an extended config)")
		}
		return
	}
	get := func(k string, dst *bool) {
		if doc.has(k) {
			if err := json.Unmarshal(doc[k], dst); err != nil {
				p.fail("%s = %s is not a boolean", k, doc[k])
			}
		}
	}
	nt, err := doc.str("sambay_norm_type", "layernorm")
	if err != nil {
		p.errs = append(p.errs, err)
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
}

// scales reads the attention scale and the μP++ multipliers.
func (p *hfParser) scales() {
	c, doc := &p.c, p.doc
	c.AttnScale = 0
	if c.HeadDim > 0 {
		c.AttnScale = c.DefaultAttnScale()
	}
	if v, err := doc.float("sambay_attn_scale", c.AttnScale); err != nil {
		p.errs = append(p.errs, err)
	} else {
		c.AttnScale = v
	}
	rs, err := doc.float("sambay_residual_scale", 1)
	if err != nil {
		p.errs = append(p.errs, err)
	}
	if rs != 1 {
		c.DepthScale = true
		if want := c.ResidualScale(); math.Abs(rs-want) > 1e-6*want {
			p.fail("sambay_residual_scale = %v, but depth scaling gives 1/sqrt(2L) = %v", rs, want)
		}
	}
	if c.LogitScale, err = doc.float("sambay_logit_scale", 1); err != nil {
		p.errs = append(p.errs, err)
	}
}

// layerTypes checks layer_types, when present, against the SWA layers
// (docs/MODEL.md §1.1 rule 2).
func (p *hfParser) layerTypes() {
	if !p.doc.has("layer_types") {
		return
	}
	var lt []string
	if err := json.Unmarshal(p.doc["layer_types"], &lt); err != nil {
		p.fail("layer_types is not a list of strings")
		return
	}
	if len(p.errs) > 0 {
		return // the layout depends on values already refused
	}
	for i, t := range lt {
		if (t == "sliding_attention") != (i < p.c.NLayer && p.c.Role(i) == reference.RoleSWA) {
			p.fail("layer_types[%d] = %q disagrees with the SambaY layout (layer %d is %v)", i, t, i, p.c.Role(i))
			return
		}
	}
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
