// Package ggml holds the facts of ggml's tensor types: ids, names, block
// sizes and bytes per block (ggml include/ggml.h enum ggml_type and
// src/ggml-common.h block structs, at ggml commit d99724f). It is the one
// table that formats/gguf, quant and inspect use; it knows no file format
// and no model.
package ggml

import (
	"fmt"
	"strings"
)

// A Type is a ggml tensor type id (enum ggml_type).
type Type uint32

// ggml type ids. Names keep ggml's spelling so that a grep through ggml
// finds them; ids 4, 5 and 31–33, 36–38 were removed upstream.
const (
	TypeF32     Type = 0
	TypeF16     Type = 1
	TypeQ4_0    Type = 2
	TypeQ4_1    Type = 3
	TypeQ5_0    Type = 6
	TypeQ5_1    Type = 7
	TypeQ8_0    Type = 8
	TypeQ8_1    Type = 9
	TypeQ2_K    Type = 10
	TypeQ3_K    Type = 11
	TypeQ4_K    Type = 12
	TypeQ5_K    Type = 13
	TypeQ6_K    Type = 14
	TypeQ8_K    Type = 15
	TypeIQ2_XXS Type = 16
	TypeIQ2_XS  Type = 17
	TypeIQ3_XXS Type = 18
	TypeIQ1_S   Type = 19
	TypeIQ4_NL  Type = 20
	TypeIQ3_S   Type = 21
	TypeIQ2_S   Type = 22
	TypeIQ4_XS  Type = 23
	TypeI8      Type = 24
	TypeI16     Type = 25
	TypeI32     Type = 26
	TypeI64     Type = 27
	TypeF64     Type = 28
	TypeIQ1_M   Type = 29
	TypeBF16    Type = 30
	TypeTQ1_0   Type = 34
	TypeTQ2_0   Type = 35
	TypeMXFP4   Type = 39
	TypeNVFP4   Type = 40
	TypeQ1_0    Type = 41
	TypeQ2_0    Type = 42
	TypeCount   Type = 43 // GGML_TYPE_COUNT
)

// QK_K is the K-quant super-block size (ggml-common.h).
const QK_K = 256

// Traits are the layout facts of one type.
type Traits struct {
	Name       string // as gguf-py and llama.cpp print it, upper case
	BlockSize  int    // elements per block
	BlockBytes int    // bytes per block
}

// traits is indexed by type id; removed ids have BlockSize 0 (ggml src/ggml.c
// type_traits; sizes are ggml-common.h's static_asserts, checked by types_test.go).
var traits = [TypeCount]Traits{
	TypeF32: {"F32", 1, 4}, TypeF16: {"F16", 1, 2},
	TypeQ4_0: {"Q4_0", 32, 18}, TypeQ4_1: {"Q4_1", 32, 20},
	TypeQ5_0: {"Q5_0", 32, 22}, TypeQ5_1: {"Q5_1", 32, 24},
	TypeQ8_0: {"Q8_0", 32, 34}, TypeQ8_1: {"Q8_1", 32, 36},
	TypeQ2_K: {"Q2_K", QK_K, 84}, TypeQ3_K: {"Q3_K", QK_K, 110}, TypeQ4_K: {"Q4_K", QK_K, 144},
	TypeQ5_K: {"Q5_K", QK_K, 176}, TypeQ6_K: {"Q6_K", QK_K, 210}, TypeQ8_K: {"Q8_K", QK_K, 292},
	TypeIQ2_XXS: {"IQ2_XXS", QK_K, 66}, TypeIQ2_XS: {"IQ2_XS", QK_K, 74}, TypeIQ3_XXS: {"IQ3_XXS", QK_K, 98},
	TypeIQ1_S: {"IQ1_S", QK_K, 50}, TypeIQ4_NL: {"IQ4_NL", 32, 18}, TypeIQ3_S: {"IQ3_S", QK_K, 110},
	TypeIQ2_S: {"IQ2_S", QK_K, 82}, TypeIQ4_XS: {"IQ4_XS", QK_K, 136},
	TypeI8: {"I8", 1, 1}, TypeI16: {"I16", 1, 2}, TypeI32: {"I32", 1, 4}, TypeI64: {"I64", 1, 8},
	TypeF64: {"F64", 1, 8}, TypeIQ1_M: {"IQ1_M", QK_K, 56}, TypeBF16: {"BF16", 1, 2},
	TypeTQ1_0: {"TQ1_0", QK_K, 54}, TypeTQ2_0: {"TQ2_0", QK_K, 66},
	TypeMXFP4: {"MXFP4", 32, 17}, TypeNVFP4: {"NVFP4", 64, 36},
	TypeQ1_0: {"Q1_0", 128, 18}, TypeQ2_0: {"Q2_0", 64, 18},
}

// Traits returns the layout of t, and false for an id ggml does not define.
func (t Type) Traits() (Traits, bool) {
	if t >= TypeCount || traits[t].BlockSize == 0 {
		return Traits{}, false
	}
	return traits[t], true
}

// Known reports whether t is a type ggml defines.
func (t Type) Known() bool { _, ok := t.Traits(); return ok }

// String returns ggml's name of t, or "Type(N)" for an unknown id.
func (t Type) String() string {
	if tr, ok := t.Traits(); ok {
		return tr.Name
	}
	return fmt.Sprintf("Type(%d)", uint32(t))
}

// BlockSize returns the elements per block (0 for an unknown id).
func (t Type) BlockSize() int {
	tr, _ := t.Traits()
	return tr.BlockSize
}

// IsQuantized reports whether t is a known block type (more than one
// element per block).
func (t Type) IsQuantized() bool { return t.BlockSize() > 1 }

// BitsPerWeight returns the storage bits per element (0 for an unknown id).
func (t Type) BitsPerWeight() float64 {
	tr, ok := t.Traits()
	if !ok {
		return 0
	}
	return 8 * float64(tr.BlockBytes) / float64(tr.BlockSize)
}

// RowBytes returns the bytes of a row of n elements. The caller checks
// that t is known and n a multiple of the block size.
func (t Type) RowBytes(n int) int {
	tr := traits[t]
	return n / tr.BlockSize * tr.BlockBytes
}

// ParseType parses a type name, case-insensitively ("q4_k", "Q8_0", "bf16").
func ParseType(s string) (Type, error) {
	for id, tr := range traits {
		if tr.BlockSize != 0 && strings.EqualFold(tr.Name, s) {
			return Type(id), nil
		}
	}
	return 0, fmt.Errorf("ggml: unknown type %q", s)
}
