package quant

import (
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/x448/float16"
)

// Type is a ggml tensor type id (ggml include/ggml.h 389–434).
type Type uint32

// ggml type ids written or read by this package. Names keep ggml spelling.
const (
	TypeF32   Type = 0
	TypeF16   Type = 1
	TypeQ4_0  Type = 2
	TypeQ4_1  Type = 3
	TypeQ5_0  Type = 6
	TypeQ5_1  Type = 7
	TypeQ8_0  Type = 8
	TypeQ2_K  Type = 10
	TypeQ3_K  Type = 11
	TypeQ4_K  Type = 12
	TypeQ5_K  Type = 13
	TypeQ6_K  Type = 14
	TypeBF16  Type = 30
	TypeCount Type = 43
)

// QK_K is the K-quant super-block size.
const QK_K = 256

// TypeInfo holds the facts of one ggml type.
type TypeInfo struct {
	Name       string
	BlockSize  int // elements per block
	BlockBytes int // bytes per block
	quantize   func(dst []byte, x []float32)
	dequantize func(dst []float32, src []byte)
}

// types is the table of every type this package knows, indexed by id
// (ggml src/ggml.c type_traits; sizes from ggml-common.h static_asserts).
var types = [TypeCount]TypeInfo{
	TypeF32:  {Name: "F32", BlockSize: 1, BlockBytes: 4, quantize: quantizeF32, dequantize: dequantizeF32},
	TypeF16:  {Name: "F16", BlockSize: 1, BlockBytes: 2, quantize: quantizeF16, dequantize: dequantizeF16},
	TypeQ4_0: {Name: "Q4_0", BlockSize: 32, BlockBytes: 18, quantize: quantizeQ4_0, dequantize: dequantizeQ4_0},
	TypeQ4_1: {Name: "Q4_1", BlockSize: 32, BlockBytes: 20, quantize: quantizeQ4_1, dequantize: dequantizeQ4_1},
	TypeQ5_0: {Name: "Q5_0", BlockSize: 32, BlockBytes: 22, quantize: quantizeQ5_0, dequantize: dequantizeQ5_0},
	TypeQ5_1: {Name: "Q5_1", BlockSize: 32, BlockBytes: 24, quantize: quantizeQ5_1, dequantize: dequantizeQ5_1},
	TypeQ8_0: {Name: "Q8_0", BlockSize: 32, BlockBytes: 34, quantize: quantizeQ8_0, dequantize: dequantizeQ8_0},
	TypeQ2_K: {Name: "Q2_K", BlockSize: QK_K, BlockBytes: 84, quantize: quantizeQ2_K, dequantize: dequantizeQ2_K},
	TypeQ3_K: {Name: "Q3_K", BlockSize: QK_K, BlockBytes: 110, quantize: quantizeQ3_K, dequantize: dequantizeQ3_K},
	TypeQ4_K: {Name: "Q4_K", BlockSize: QK_K, BlockBytes: 144, quantize: quantizeQ4_K, dequantize: dequantizeQ4_K},
	TypeQ5_K: {Name: "Q5_K", BlockSize: QK_K, BlockBytes: 176, quantize: quantizeQ5_K, dequantize: dequantizeQ5_K},
	TypeQ6_K: {Name: "Q6_K", BlockSize: QK_K, BlockBytes: 210, quantize: quantizeQ6_K, dequantize: dequantizeQ6_K},
	TypeBF16: {Name: "BF16", BlockSize: 1, BlockBytes: 2, quantize: quantizeBF16, dequantize: dequantizeBF16},
}

// Info returns the facts of t, and false for a type this package does not handle.
func (t Type) Info() (TypeInfo, bool) {
	if t >= TypeCount || types[t].BlockSize == 0 {
		return TypeInfo{}, false
	}
	return types[t], true
}

func (t Type) String() string {
	if i, ok := t.Info(); ok {
		return i.Name
	}
	return fmt.Sprintf("Type(%d)", uint32(t))
}

// Valid reports whether this package can quantize and dequantize t.
func (t Type) Valid() bool { _, ok := t.Info(); return ok }

// IsQuantized reports whether t is a block type (not F32, F16 or BF16).
func (t Type) IsQuantized() bool { return t.Valid() && types[t].BlockSize > 1 }

// BitsPerWeight returns the storage bits per element.
func (t Type) BitsPerWeight() float64 {
	i := types[t]
	return 8 * float64(i.BlockBytes) / float64(i.BlockSize)
}

// RowBytes returns the bytes of a row of n elements (n a multiple of the block size).
func (t Type) RowBytes(n int) int {
	i := types[t]
	return n / i.BlockSize * i.BlockBytes
}

// ParseType parses a type name (case-insensitive: q4_k, Q8_0, f16, bf16, f32).
func ParseType(s string) (Type, error) {
	for id, i := range types {
		if i.BlockSize != 0 && equalFold(i.Name, s) {
			return Type(id), nil
		}
	}
	return 0, fmt.Errorf("quant: unknown type %q", s)
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// QuantizeRow quantizes one row x (len a multiple of the block size) into dst.
func QuantizeRow(t Type, dst []byte, x []float32) { types[t].quantize(dst[:t.RowBytes(len(x))], x) }

// DequantizeRow widens one quantized row into dst (len = elements).
func DequantizeRow(t Type, dst []float32, src []byte) {
	types[t].dequantize(dst, src[:t.RowBytes(len(dst))])
}

// Quantize quantizes a row-major [rows, cols] matrix x into dst (rows ×
// RowBytes(cols)), rows split among goroutines. cols must be a multiple of
// the block size; the caller checks.
func Quantize(t Type, dst []byte, x []float32, rows, cols int) {
	rb := t.RowBytes(cols)
	nt := min(runtime.GOMAXPROCS(0), rows)
	if nt <= 1 {
		for r := 0; r < rows; r++ {
			QuantizeRow(t, dst[r*rb:(r+1)*rb], x[r*cols:(r+1)*cols])
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, rows)
	for r := 0; r < rows; r++ {
		next <- r
	}
	close(next)
	for w := 0; w < nt; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range next {
				QuantizeRow(t, dst[r*rb:(r+1)*rb], x[r*cols:(r+1)*cols])
			}
		}()
	}
	wg.Wait()
}

// fp16 rounds to IEEE half (RNE); ggml's GGML_FP32_TO_FP16 gives the same
// bits for every finite input (ggml-impl.h 384–431).
func fp16(v float32) uint16   { return uint16(float16.Fromfloat32(v)) }
func unfp16(h uint16) float32 { return float16.Frombits(h).Float32() }

func putF16(b []byte, v float32) { h := fp16(v); b[0], b[1] = byte(h), byte(h>>8) }
func getF16(b []byte) float32    { return unfp16(uint16(b[0]) | uint16(b[1])<<8) }

// abs32 is fabsf: the sign bit cleared.
func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// nearestInt is ggml's nearest_int (ggml-quants.c 621–626), written the same
// way: adding 1.5·2^23 rounds half to even into the low mantissa bits (valid
// for |f| ≤ 4194303, which every caller guarantees).
func nearestInt(f float32) int {
	val := f + 12582912
	return int(int32(math.Float32bits(val)&0x007fffff) - 0x00400000)
}

func quantizeF32(dst []byte, x []float32) {
	for i, v := range x {
		b := math.Float32bits(v)
		dst[4*i], dst[4*i+1], dst[4*i+2], dst[4*i+3] = byte(b), byte(b>>8), byte(b>>16), byte(b>>24)
	}
}

func dequantizeF32(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(src[4*i]) | uint32(src[4*i+1])<<8 | uint32(src[4*i+2])<<16 | uint32(src[4*i+3])<<24)
	}
}

func quantizeF16(dst []byte, x []float32) {
	for i, v := range x {
		putF16(dst[2*i:], v)
	}
}

func dequantizeF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = getF16(src[2*i:])
	}
}

func quantizeBF16(dst []byte, x []float32) {
	for i, v := range x {
		u := math.Float32bits(v)
		var h uint16
		if u&0x7fffffff > 0x7f800000 {
			h = uint16(u>>16) | 0x40 // ggml keeps the sign and forces a quiet NaN (ggml-impl.h)
		} else {
			h = uint16((u + 0x7fff + (u>>16)&1) >> 16)
		}
		dst[2*i], dst[2*i+1] = byte(h), byte(h>>8)
	}
}

func dequantizeBF16(dst []float32, src []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(uint32(src[2*i])<<16 | uint32(src[2*i+1])<<24)
	}
}

// f16Fields lists the byte offsets of the f16 scale fields inside one block
// of each block type, for ValidateRow.
var f16Fields = map[Type][]int{
	TypeQ4_0: {0}, TypeQ4_1: {0, 2}, TypeQ5_0: {0}, TypeQ5_1: {0, 2}, TypeQ8_0: {0},
	TypeQ2_K: {80, 82}, TypeQ3_K: {108}, TypeQ4_K: {0, 2}, TypeQ5_K: {0, 2}, TypeQ6_K: {208},
}

// ValidateRow checks an encoded row as ggml's ggml_validate_row_data does:
// every f16 scale (and every F16/BF16/F32 element) must be finite. It
// returns the index of the first bad block (element for float types), or −1.
func ValidateRow(t Type, row []byte) int {
	info := types[t]
	switch t {
	case TypeF16:
		for i := 0; i+1 < len(row); i += 2 {
			if (uint16(row[i])|uint16(row[i+1])<<8)&0x7c00 == 0x7c00 {
				return i / 2
			}
		}
		return -1
	case TypeBF16:
		for i := 0; i+1 < len(row); i += 2 {
			if (uint16(row[i])|uint16(row[i+1])<<8)&0x7f80 == 0x7f80 {
				return i / 2
			}
		}
		return -1
	case TypeF32:
		for i := 0; i+3 < len(row); i += 4 {
			if row[i+3]&0x7f == 0x7f && row[i+2]&0x80 == 0x80 {
				return i / 4
			}
		}
		return -1
	}
	for b := 0; b*info.BlockBytes < len(row); b++ {
		for _, off := range f16Fields[t] {
			p := b*info.BlockBytes + off
			if (uint16(row[p])|uint16(row[p+1])<<8)&0x7c00 == 0x7c00 {
				return b
			}
		}
	}
	return -1
}
