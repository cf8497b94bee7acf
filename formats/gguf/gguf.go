package gguf

import (
	"fmt"
	"math"

	"github.com/sambay-conv/sambay-conv/ggml"
)

// Magic is the GGUF file magic; Version the version written.
const (
	Magic            = "GGUF"
	Version          = 3
	DefaultAlignment = 32
	// MaxNameLen is the longest tensor name ggml loads (GGML_MAX_NAME − 1).
	MaxNameLen = 63
	// MaxDims is GGML_MAX_DIMS.
	MaxDims = 4
	// maxString and maxArray are gguf.cpp's GGUF_MAX_STRING_LENGTH and its
	// array element cap (1 GiB, 1 Gi elements).
	maxString = 1 << 30
	maxArray  = 1 << 30
)

// ValueType is a metadata value type (docs/gguf.md 198–229).
type ValueType uint32

// Metadata value types.
const (
	TypeUint8 ValueType = iota
	TypeInt8
	TypeUint16
	TypeInt16
	TypeUint32
	TypeInt32
	TypeFloat32
	TypeBool
	TypeString
	TypeArray
	TypeUint64
	TypeInt64
	TypeFloat64
	numValueTypes
)

var scalarSize = [numValueTypes]int{1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8}

// An Array is an array metadata value: its element type and elements (Go
// values of the matching scalar type, or strings).
type Array struct {
	Type   ValueType
	Values []any
}

// A KV is one metadata pair. Value holds uint8, int8, uint16, int16,
// uint32, int32, float32, bool, string, uint64, int64, float64 or Array.
type KV struct {
	Key   string
	Value any
}

// TypeOf returns the metadata value type of a Go value, or false.
func TypeOf(v any) (ValueType, bool) {
	switch v.(type) {
	case uint8:
		return TypeUint8, true
	case int8:
		return TypeInt8, true
	case uint16:
		return TypeUint16, true
	case int16:
		return TypeInt16, true
	case uint32:
		return TypeUint32, true
	case int32:
		return TypeInt32, true
	case float32:
		return TypeFloat32, true
	case bool:
		return TypeBool, true
	case string:
		return TypeString, true
	case Array:
		return TypeArray, true
	case uint64:
		return TypeUint64, true
	case int64:
		return TypeInt64, true
	case float64:
		return TypeFloat64, true
	}
	return 0, false
}

// A TensorInfo is one tensor of a GGUF file. Dims are ggml ne[] (the
// PyTorch shape reversed); Offset is relative to the data section.
type TensorInfo struct {
	Name   string
	Dims   []uint64
	Type   ggml.Type
	Offset uint64
}

// NumElements returns the element count (checked by the reader or writer).
func (t *TensorInfo) NumElements() int64 {
	n := int64(1)
	for _, d := range t.Dims {
		n *= int64(d)
	}
	return n
}

// Size returns the tensor's byte size, or an error when its type is unknown,
// ne[0] is not a multiple of the block size, or the size overflows.
func (t *TensorInfo) Size() (int64, error) {
	g, ok := t.Type.Traits()
	if !ok {
		return 0, fmt.Errorf("unknown ggml type %d", uint32(t.Type))
	}
	n := int64(1)
	for _, d := range t.Dims {
		if d > math.MaxInt64 || (d != 0 && n > math.MaxInt64/int64(d)) {
			return 0, fmt.Errorf("dims %v overflow", t.Dims)
		}
		n *= int64(d)
	}
	ne0 := int64(1)
	if len(t.Dims) > 0 {
		ne0 = int64(t.Dims[0])
	}
	bs, bb := int64(g.BlockSize), int64(g.BlockBytes)
	if ne0%bs != 0 {
		return 0, fmt.Errorf("ne[0] = %d is not a multiple of the %s block size %d", ne0, g.Name, bs)
	}
	blocks := n / bs
	if blocks > math.MaxInt64/bb {
		return 0, fmt.Errorf("byte size overflows")
	}
	return blocks * bb, nil
}

func align(o, a uint64) uint64 { return o + (a-o%a)%a }
