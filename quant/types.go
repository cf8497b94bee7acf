package quant

import (
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/x448/float16"
)

// QK_K is the K-quant super-block size.
const QK_K = ggml.QK_K

// kernel is one type's row quantizer and dequantizer.
type kernel struct {
	quantize   func(dst []byte, x []float32)
	dequantize func(dst []float32, src []byte)
}

// kernels holds the types this package writes and reads, indexed by ggml
// type id; block layouts come from package ggml.
var kernels = [ggml.TypeCount]kernel{
	ggml.TypeF32:  {quantizeF32, dequantizeF32},
	ggml.TypeF16:  {quantizeF16, dequantizeF16},
	ggml.TypeQ4_0: {quantizeQ4_0, dequantizeQ4_0},
	ggml.TypeQ4_1: {quantizeQ4_1, dequantizeQ4_1},
	ggml.TypeQ5_0: {quantizeQ5_0, dequantizeQ5_0},
	ggml.TypeQ5_1: {quantizeQ5_1, dequantizeQ5_1},
	ggml.TypeQ8_0: {quantizeQ8_0, dequantizeQ8_0},
	ggml.TypeQ2_K: {quantizeQ2_K, dequantizeQ2_K},
	ggml.TypeQ3_K: {quantizeQ3_K, dequantizeQ3_K},
	ggml.TypeQ4_K: {quantizeQ4_K, dequantizeQ4_K},
	ggml.TypeQ5_K: {quantizeQ5_K, dequantizeQ5_K},
	ggml.TypeQ6_K: {quantizeQ6_K, dequantizeQ6_K},
	ggml.TypeBF16: {quantizeBF16, dequantizeBF16},
}

// Supported reports whether this package can quantize and dequantize t.
func Supported(t ggml.Type) bool { return t < ggml.TypeCount && kernels[t].quantize != nil }

// ParseType parses the name of a type this package supports
// (case-insensitive: q4_k, Q8_0, f16, bf16, f32).
func ParseType(s string) (ggml.Type, error) {
	t, err := ggml.ParseType(s)
	if err != nil || !Supported(t) {
		return 0, fmt.Errorf("%w: type %q", ErrUnknown, s)
	}
	return t, nil
}

// QuantizeRow quantizes one row x (len a multiple of the block size) into dst.
func QuantizeRow(t ggml.Type, dst []byte, x []float32) {
	kernels[t].quantize(dst[:t.RowBytes(len(x))], x)
}

// DequantizeRow widens one quantized row into dst (len = elements).
func DequantizeRow(t ggml.Type, dst []float32, src []byte) {
	kernels[t].dequantize(dst, src[:t.RowBytes(len(dst))])
}

// Quantize quantizes a row-major [rows, cols] matrix x into dst (rows ×
// RowBytes(cols)), rows split among goroutines. cols must be a multiple of
// the block size; the caller checks.
func Quantize(t ggml.Type, dst []byte, x []float32, rows, cols int) {
	rb := t.RowBytes(cols)
	nt := min(runtime.GOMAXPROCS(0), rows)
	if nt <= 1 {
		for r := 0; r < rows; r++ {
			QuantizeRow(t, dst[r*rb:(r+1)*rb], x[r*cols:(r+1)*cols])
		}
		return
	}
	// Workers take runs of rows (about eight per worker over the tensor)
	// from a counter: one row at a time cost a shared-counter handoff per
	// row of a few microseconds' work.
	run := max(1, rows/(8*nt))
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < nt; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				r0 := int(next.Add(int64(run))) - run
				if r0 >= rows {
					return
				}
				for r := r0; r < min(rows, r0+run); r++ {
					QuantizeRow(t, dst[r*rb:(r+1)*rb], x[r*cols:(r+1)*cols])
				}
			}
		}()
	}
	wg.Wait()
}

// fp16 is ggml's ggml_compute_fp32_to_fp16 (ggml-impl.h), the conversion
// its reference quantizers use, written the same way: the magnitude scaled
// up by 2^112 and down by 2^-110 makes float32 multiplication round the
// mantissa to half precision, nearest even, subnormals included; a NaN
// becomes 0x7e00. IEEE round-to-nearest-even throughout (TestFP16), without
// the branches of a bit-by-bit conversion.
func fp16(f float32) uint16 {
	const scaleToInf, scaleToZero = float32(0x1.0p+112), float32(0x1.0p-110)
	base := float32(abs32(f)*scaleToInf) * scaleToZero
	w := math.Float32bits(f)
	shl1 := w + w
	sign := w & 0x80000000
	bias := max(shl1&0xff000000, 0x71000000)
	base = math.Float32frombits(bias>>1+0x07800000) + base
	bits := math.Float32bits(base)
	nonsign := bits>>13&0x7c00 + bits&0x0fff
	if shl1 > 0xff000000 {
		nonsign = 0x7e00
	}
	return uint16(sign>>16 | nonsign)
}

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
var f16Fields = [ggml.TypeCount][]int{
	ggml.TypeQ4_0: {0}, ggml.TypeQ4_1: {0, 2}, ggml.TypeQ5_0: {0}, ggml.TypeQ5_1: {0, 2}, ggml.TypeQ8_0: {0},
	ggml.TypeQ2_K: {80, 82}, ggml.TypeQ3_K: {108}, ggml.TypeQ4_K: {0, 2}, ggml.TypeQ5_K: {0, 2}, ggml.TypeQ6_K: {208},
}

// ValidateRow checks an encoded row as ggml's ggml_validate_row_data does:
// every f16 scale (and every F16/BF16/F32 element) must be finite. It
// returns the index of the first bad block (element for float types), or −1.
func ValidateRow(t ggml.Type, row []byte) int {
	blockBytes := t.RowBytes(t.BlockSize())
	switch t {
	case ggml.TypeF16:
		for i := 0; i+1 < len(row); i += 2 {
			if (uint16(row[i])|uint16(row[i+1])<<8)&0x7c00 == 0x7c00 {
				return i / 2
			}
		}
		return -1
	case ggml.TypeBF16:
		for i := 0; i+1 < len(row); i += 2 {
			if (uint16(row[i])|uint16(row[i+1])<<8)&0x7f80 == 0x7f80 {
				return i / 2
			}
		}
		return -1
	case ggml.TypeF32:
		for i := 0; i+3 < len(row); i += 4 {
			if row[i+3]&0x7f == 0x7f && row[i+2]&0x80 == 0x80 {
				return i / 4
			}
		}
		return -1
	}
	// An f16 is Inf or NaN when its exponent bits (0x7c00) are all set,
	// which lie in its high byte.
	fields := f16Fields[t]
	for b, p := 0, 0; p < len(row); b, p = b+1, p+blockBytes {
		for _, off := range fields {
			if row[p+off+1]&0x7c == 0x7c {
				return b
			}
		}
	}
	return -1
}
