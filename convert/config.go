package convert

import (
	"encoding/json"
	"fmt"

	"github.com/sambay-conv/sambay-conv/internal/sidefile"
	"github.com/sambay-conv/sambay-conv/reference"
)

// ConfigOptions say where a configuration may come from besides the checkpoint.
type ConfigOptions struct {
	Arch       string       // a built-in ArchScale configuration name
	ConfigFile string       // lit_gpt Config JSON, or an HF config.json
	MuP        MuPOverrides // μP++ overrides
}

// ResolvedConfig is a decided configuration and how it was decided.
type ResolvedConfig struct {
	Config reference.Config
	From   string   // "config.json", "lit_gpt config file", "--arch …", "hparams model_name …"
	Log    []string // what was defaulted, patched or overridden
	// Extra carries HF config values to copy into an emitted config.json
	// (token ids, auto_map).
	Extra map[string]any
}

func isHFConfig(data []byte) bool {
	var m map[string]any
	if json.Unmarshal(data, &m) != nil {
		return false
	}
	_, a := m["hidden_size"]
	_, b := m["model_type"]
	return a || b
}

// ResolveConfig decides the configuration of src (docs/MODEL.md §1.1, §1.3):
// an HF config (--config or config.json beside the checkpoint) for the HF
// layout; for ArchScale names a lit_gpt --config file, --arch, or the
// hparams of the checkpoint, with μP++ from the hparams.
func ResolveConfig(src *Source, o ConfigOptions) (*ResolvedConfig, error) {
	var file []byte
	if o.ConfigFile != "" {
		b, err := sidefile.ReadFile(o.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrConfig, err)
		}
		file = b
	}
	rc := &ResolvedConfig{Extra: map[string]any{}}
	hfDoc := src.HFConfig
	from := "config.json"
	if file != nil && isHFConfig(file) {
		hfDoc, from = file, o.ConfigFile
	}
	litGiven := file != nil && !isHFConfig(file)
	if (src.Layout == LayoutHF && !litGiven) || (file != nil && isHFConfig(file)) {
		if hfDoc == nil {
			if o.Arch != "" {
				c, log, err := archscaleConfig(nil, o.Arch, nil, o.MuP)
				if err != nil {
					return nil, err
				}
				rc.Config, rc.From, rc.Log = c, "--arch "+o.Arch, log
				return rc, nil
			}
			return nil, fmt.Errorf("%w: %s has Hugging Face names but no config.json beside it; pass --config config.json or --arch NAME", ErrConfig, src.Path)
		}
		c, info, err := ParseHFConfig(hfDoc)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrConfig, from, err)
		}
		if len(info.Defaulted) > 0 {
			rc.Log = append(rc.Log, fmt.Sprintf("%s omits %v: Phi4FlashConfig class defaults used", from, info.Defaulted))
		}
		for _, k := range []string{"bos_token_id", "eos_token_id", "pad_token_id", "auto_map"} {
			if v, ok := info.Raw[k]; ok {
				rc.Extra[k] = v
			}
		}
		if o.MuP.AttnScale != nil {
			c.AttnScale = *o.MuP.AttnScale
		}
		rc.Config, rc.From = c, from
		return rc, nil
	}
	var lit []byte
	if file != nil {
		lit = file
	}
	c, log, err := archscaleConfig(src.Hparams, o.Arch, lit, o.MuP)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", src.Path, err)
	}
	rc.Config, rc.Log = c, log
	if len(log) > 0 {
		rc.From = log[0]
	}
	return rc, nil
}
