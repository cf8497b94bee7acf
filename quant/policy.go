package quant

import (
	"fmt"
	"regexp"
	"strings"
)

// Per-tensor type policy, reproducing llama-quantize's llama_tensor_get_type
// (llama.cpp src/llama-quant.cpp 424–715) on GGUF tensor names, as spec
// gguf.md §5 states it.

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
	Type    Type
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

// Policies lists the named mixes.
var Policies = []string{"f32", "f16", "bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "q5_0", "q4_0"}

// FileType returns general.file_type (llama_ftype, llama.h 117–158) of a policy.
func FileType(policy string) uint32 {
	return map[string]uint32{"f32": 0, "f16": 1, "q4_0": 2, "q4_1": 3, "q8_0": 7, "q5_0": 8, "q5_1": 9,
		"q2_k": 10, "q3_k": 12, "q4_k": 15, "q4_k_m": 15, "q5_k": 17, "q5_k_m": 17, "q6_k": 18, "bf16": 32}[policy]
}

// Quantizable reports whether llama-quantize would quantize a tensor
// (llama-quant.cpp 289–371): ≥ 2 dims, a name ending in "weight", not a
// norm, not the Mamba conv.
func Quantizable(t PlanTensor) bool {
	return len(t.Dims) >= 2 && strings.HasSuffix(t.Name, "weight") &&
		!strings.Contains(t.Name, "_norm.weight") && !strings.Contains(t.Name, "ssm_conv1d")
}

func useMoreBits(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }

// A Choice is the type picked for one tensor and why.
type Choice struct {
	Type Type
	Why  string // "", "fallback from Q4_K: ne[0] 160 % 256", "override …"
}

// Plan picks the type of every tensor. With pure, every quantizable tensor
// gets pureType (only the shape fallback applies). nLayer is block_count.
func Plan(policy string, pure bool, pureType Type, tensors []PlanTensor, nLayer int, overrides []Override) ([]Choice, error) {
	var base Type
	switch policy {
	case "f32":
		base = TypeF32
	case "f16":
		base = TypeF16
	case "bf16":
		base = TypeBF16
	case "q8_0":
		base = TypeQ8_0
	case "q6_k":
		base = TypeQ6_K
	case "q5_k_m":
		base = TypeQ5_K
	case "q4_k_m":
		base = TypeQ4_K
	case "q5_0":
		base = TypeQ5_0
	case "q4_0":
		base = TypeQ4_0
	default:
		if !pure {
			return nil, fmt.Errorf("quant: unknown policy %q (want one of %s)", policy, strings.Join(Policies, ", "))
		}
	}
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
			out[k] = Choice{Type: TypeF32}
			continue
		}
		typ := base
		isOut := t.Name == "output.weight" || (!hasOutput && t.Name == "token_embd.weight")
		if !pure && base.IsQuantized() {
			kquant := base == TypeQ4_K || base == TypeQ5_K || base == TypeQ6_K
			switch {
			case isOut:
				if base != TypeQ8_0 {
					typ = TypeQ6_K // llama-quant.cpp 452–473
				}
			case isAttnV(t.Name):
				if kquant && base != TypeQ6_K && useMoreBits(iV, nV) {
					typ = TypeQ6_K
				}
			case strings.Contains(t.Name, "ffn_down"):
				if kquant && base != TypeQ6_K && useMoreBits(iFFN, nLayer) {
					typ = TypeQ6_K
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
		if info := types[typ]; ne0%info.BlockSize != 0 {
			fb := TypeF16
			switch typ {
			case TypeQ4_K:
				fb = TypeQ5_0
			case TypeQ5_K:
				fb = TypeQ5_1
			case TypeQ6_K:
				fb = TypeQ8_0
			case TypeQ2_K, TypeQ3_K:
				fb = TypeQ4_0
			}
			if ne0%types[fb].BlockSize != 0 {
				fb = TypeF16
			}
			out[k] = Choice{Type: fb, Why: fmt.Sprintf("fallback from %v: ne[0] = %d is not a multiple of %d", typ, ne0, info.BlockSize)}
		}
	}
	return out, nil
}

func isAttnV(name string) bool {
	return strings.Contains(name, "attn_v.weight") || strings.Contains(name, "attn_qkv.weight") || strings.Contains(name, "attn_kv_b.weight")
}
