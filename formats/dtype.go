package formats

import "fmt"

// A DType is an element type of a tensor. The constants are declared in the
// order of the safetensors dtype enum ("increasing alignment order",
// huggingface/safetensors safetensors/src/tensor.rs at 24b0b28), which is the
// order safetensors writers sort by.
type DType uint8

// Element types. Names follow safetensors spelling.
const (
	Invalid DType = iota
	BOOL
	F4
	F6_E2M3
	F6_E3M2
	U8
	I8
	F8_E5M2
	F8_E4M3
	F8_E8M0
	F8_E4M3FNUZ
	F8_E5M2FNUZ
	I16
	U16
	F16
	BF16
	I32
	U32
	F32
	C64
	F64
	I64
	U64
	numDTypes
)

var dtypeInfo = [numDTypes]struct {
	name string
	bits int
}{
	BOOL: {"BOOL", 8}, F4: {"F4", 4}, F6_E2M3: {"F6_E2M3", 6}, F6_E3M2: {"F6_E3M2", 6},
	U8: {"U8", 8}, I8: {"I8", 8}, F8_E5M2: {"F8_E5M2", 8}, F8_E4M3: {"F8_E4M3", 8},
	F8_E8M0: {"F8_E8M0", 8}, F8_E4M3FNUZ: {"F8_E4M3FNUZ", 8}, F8_E5M2FNUZ: {"F8_E5M2FNUZ", 8},
	I16: {"I16", 16}, U16: {"U16", 16}, F16: {"F16", 16}, BF16: {"BF16", 16},
	I32: {"I32", 32}, U32: {"U32", 32}, F32: {"F32", 32}, C64: {"C64", 64},
	F64: {"F64", 64}, I64: {"I64", 64}, U64: {"U64", 64},
}

// ParseDType returns the DType spelled s in safetensors notation ("BF16").
func ParseDType(s string) (DType, error) {
	for d := BOOL; d < numDTypes; d++ {
		if dtypeInfo[d].name == s {
			return d, nil
		}
	}
	return Invalid, fmt.Errorf("formats: unknown dtype %q", s)
}

// String returns the safetensors spelling of d.
func (d DType) String() string {
	if d == Invalid || d >= numDTypes {
		return fmt.Sprintf("DType(%d)", uint8(d))
	}
	return dtypeInfo[d].name
}

// Bits returns the size of one element in bits (0 for an invalid DType).
func (d DType) Bits() int {
	if d >= numDTypes {
		return 0
	}
	return dtypeInfo[d].bits
}

// Size returns the size of one element in bytes; 0 for sub-byte types.
func (d DType) Size() int { return d.Bits() / 8 }

// IsFloat reports whether d is a floating-point type that the conversions of
// this package can widen to float32 (F16, BF16, F32, F64).
func (d DType) IsFloat() bool {
	switch d {
	case F16, BF16, F32, F64:
		return true
	}
	return false
}
