package quant

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/sambay-conv/sambay-conv/ggml"
)

// Per-tensor type policy, reproducing llama-quantize's llama_tensor_get_type
// (llama.cpp src/llama-quant.cpp 424–715) on GGUF tensor names, as docs/QUANT.md
// §Mixes states it.

// A PlanTensor is one tensor of a GGUF file in file order: its name and
// ggml dims (ne[0] first).
type PlanTensor struct {
	Name string
	Dims []uint64
}

// An Override forces the type of tensors whose GGUF name matches Pattern
// (first match wins), as llama-quantize's --tensor-type does.
type Override struct {
	Pattern *regexp.Regexp
	Type    ggml.Type
}

// ParseOverride parses "REGEX=TYPE".
func ParseOverride(s string) (Override, error) {
	i := strings.LastIndexByte(s, '=')
	if i <= 0 {
		return Override{}, fmt.Errorf("tensor type override %q: want REGEX=TYPE", s)
	}
	re, err := regexp.Compile(s[:i])
	if err != nil {
		return Override{}, fmt.Errorf("tensor type override %q: %v", s, err)
	}
	t, err := ParseType(s[i+1:])
	if err != nil {
		return Override{}, err
	}
	return Override{Pattern: re, Type: t}, nil
}

// ErrUnknown reports a mix or type name this package does not know.
var ErrUnknown = errors.New("quant: unknown")

// A Mix is a named llama-quantize mix: the type its quantizable tensors
// start from (before the per-tensor rules of Plan) and its llama_ftype.
type Mix struct {
	Name     string
	Base     ggml.Type
	FileType uint32 // general.file_type (llama_ftype, llama.cpp include/llama.h 117–158)
}

// Mixes is the one list of named mixes, in the order help text shows them.
var Mixes = []Mix{
	{"f32", ggml.TypeF32, 0}, {"f16", ggml.TypeF16, 1}, {"bf16", ggml.TypeBF16, 32},
	{"q8_0", ggml.TypeQ8_0, 7}, {"q6_k", ggml.TypeQ6_K, 18}, {"q5_k_m", ggml.TypeQ5_K, 17},
	{"q4_k_m", ggml.TypeQ4_K, 15}, {"q5_0", ggml.TypeQ5_0, 8}, {"q4_0", ggml.TypeQ4_0, 2},
}

// LookupMix returns the named mix (lower case, as Mixes spells it).
func LookupMix(name string) (Mix, bool) {
	for _, m := range Mixes {
		if m.Name == name {
			return m, true
		}
	}
	return Mix{}, false
}

// MixNames returns the names of Mixes.
func MixNames() []string {
	out := make([]string, len(Mixes))
	for i, m := range Mixes {
		out[i] = m.Name
	}
	return out
}

// FileType returns general.file_type of a named mix, and 0 (all F32) for
// any other policy string.
func FileType(policy string) uint32 {
	m, _ := LookupMix(policy)
	return m.FileType
}

// PureFileType returns general.file_type of a file whose quantizable
// tensors are all of type t (llama_ftype's "mostly t": the K types map to
// their _M mixes' ids, as llama.cpp names a pure K file).
func PureFileType(t ggml.Type) uint32 {
	for _, m := range Mixes {
		if m.Base == t {
			return m.FileType
		}
	}
	return map[ggml.Type]uint32{ggml.TypeQ4_1: 3, ggml.TypeQ5_1: 9, ggml.TypeQ2_K: 10, ggml.TypeQ3_K: 12}[t]
}

// Quantizable reports whether llama-quantize would quantize a tensor
// (llama-quant.cpp 289–371): ≥ 2 dims, a name ending in "weight", not a
// norm, not the Mamba conv.
func Quantizable(t PlanTensor) bool {
	return len(t.Dims) >= 2 && strings.HasSuffix(t.Name, "weight") &&
		!strings.Contains(t.Name, "_norm.weight") && !strings.Contains(t.Name, "ssm_conv1d")
}

// UseMoreBits is llama-quant.cpp's use_more_bits (and mlx-lm's mixed
// recipes' copy of it): the first and last eighth of n layers, and every
// third one between, get the larger type.
func UseMoreBits(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }

// A Choice is the type picked for one tensor and why.
type Choice struct {
	Type ggml.Type
	Why  string // "", "fallback from Q4_K: ne[0] 160 % 256", "override …"
}

// Plan picks the type of every tensor. With pure, every quantizable tensor
// gets pureType (only the shape fallback applies). nLayer is block_count.
func Plan(policy string, pure bool, pureType ggml.Type, tensors []PlanTensor, nLayer int, overrides []Override) ([]Choice, error) {
	mix, ok := LookupMix(policy)
	if !ok && !pure {
		return nil, fmt.Errorf("%w: policy %q (want one of %s)", ErrUnknown, policy, strings.Join(MixNames(), ", "))
	}
	base := mix.Base
	if pure {
		base = pureType
	}
	hasOutput := false
	nV := 0
	for _, t := range tensors {
		if t.Name == "output.weight" {
			hasOutput = true
		}
		if isAttnV(t.Name) {
			nV++
		}
	}
	out := make([]Choice, len(tensors))
	iV, iFFN := 0, 0
	for k, t := range tensors {
		if !Quantizable(t) {
			out[k] = Choice{Type: ggml.TypeF32}
			continue
		}
		typ := base
		isOut := t.Name == "output.weight" || (!hasOutput && t.Name == "token_embd.weight")
		if !pure && base.IsQuantized() {
			kquant := base == ggml.TypeQ4_K || base == ggml.TypeQ5_K || base == ggml.TypeQ6_K
			switch {
			case isOut:
				if base != ggml.TypeQ8_0 {
					typ = ggml.TypeQ6_K // llama-quant.cpp 452–473
				}
			case isAttnV(t.Name):
				if kquant && base != ggml.TypeQ6_K && UseMoreBits(iV, nV) {
					typ = ggml.TypeQ6_K
				}
			case strings.Contains(t.Name, "ffn_down"):
				if kquant && base != ggml.TypeQ6_K && UseMoreBits(iFFN, nLayer) {
					typ = ggml.TypeQ6_K
				}
			}
		}
		if isAttnV(t.Name) {
			iV++
		}
		if strings.Contains(t.Name, "ffn_down") {
			iFFN++
		}
		why := ""
		for _, o := range overrides {
			if o.Pattern.MatchString(t.Name) {
				typ, why = o.Type, "override "+o.Pattern.String()
				break
			}
		}
		out[k] = Choice{Type: typ, Why: why}
		// Shape fallback (llama-quant.cpp 374–422).
		ne0 := int(t.Dims[0])
		if bs := typ.BlockSize(); ne0%bs != 0 {
			fb := ggml.TypeF16
			switch typ {
			case ggml.TypeQ4_K:
				fb = ggml.TypeQ5_0
			case ggml.TypeQ5_K:
				fb = ggml.TypeQ5_1
			case ggml.TypeQ6_K:
				fb = ggml.TypeQ8_0
			case ggml.TypeQ2_K, ggml.TypeQ3_K:
				fb = ggml.TypeQ4_0
			}
			if ne0%fb.BlockSize() != 0 {
				fb = ggml.TypeF16
			}
			out[k] = Choice{Type: fb, Why: fmt.Sprintf("fallback from %v: ne[0] = %d is not a multiple of %d", typ, ne0, bs)}
		}
	}
	return out, nil
}

func isAttnV(name string) bool {
	return strings.Contains(name, "attn_v.weight") || strings.Contains(name, "attn_qkv.weight") || strings.Contains(name, "attn_kv_b.weight")
}
