package formats

import (
	"encoding/binary"
	"math"

	"github.com/x448/float16"
)

// BF16ToFloat32 widens a bfloat16 bit pattern exactly.
func BF16ToFloat32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// Float32ToBF16 rounds f to bfloat16 with round-to-nearest-even, as
// PyTorch's c10::BFloat16 does (c10/util/BFloat16.h round_to_nearest_even):
// every NaN becomes the quiet NaN 0x7FC0, infinities stay infinite, and
// values that round past the largest finite bf16 become infinity.
// (Truncating converters, common in Go bf16 packages, are wrong by one ulp
// for half of all inputs.)
func Float32ToBF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 {
		return 0x7fc0
	}
	u += 0x7fff + (u>>16)&1
	return uint16(u >> 16)
}

// F16ToFloat32 widens an IEEE half bit pattern exactly.
func F16ToFloat32(h uint16) float32 { return float16.Frombits(h).Float32() }

// Float32ToF16 rounds f to IEEE half with round-to-nearest-even.
func Float32ToF16(f float32) uint16 { return uint16(float16.Fromfloat32(f)) }

// RoundBF16 returns f rounded to the nearest bfloat16 value, as a float32.
func RoundBF16(f float32) float32 { return BF16ToFloat32(Float32ToBF16(f)) }

// DecodeFloat32 widens len(dst) elements of src, stored as dt
// (F16, BF16, F32 or F64), into dst. F64 is rounded to the nearest float32.
// It panics if dt is not a float type or src is too short: callers check
// both once (a programming error, not bad input).
func DecodeFloat32(dst []float32, src []byte, dt DType) {
	switch dt {
	case BF16:
		src = src[:2*len(dst)]
		for i := range dst {
			dst[i] = math.Float32frombits(uint32(binary.LittleEndian.Uint16(src[2*i:])) << 16)
		}
	case F16:
		src = src[:2*len(dst)]
		for i := range dst {
			dst[i] = float16.Frombits(binary.LittleEndian.Uint16(src[2*i:])).Float32()
		}
	case F32:
		src = src[:4*len(dst)]
		for i := range dst {
			dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
		}
	case F64:
		src = src[:8*len(dst)]
		for i := range dst {
			dst[i] = float32(math.Float64frombits(binary.LittleEndian.Uint64(src[8*i:])))
		}
	default:
		panic("formats: DecodeFloat32 of " + dt.String())
	}
}

// EncodeFloat32 stores src into dst as dt (F16, BF16, F32 or F64), rounding
// to nearest even. dst must hold len(src) elements of dt.
func EncodeFloat32(dst []byte, src []float32, dt DType) {
	switch dt {
	case BF16:
		dst = dst[:2*len(src)]
		for i, f := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], Float32ToBF16(f))
		}
	case F16:
		dst = dst[:2*len(src)]
		for i, f := range src {
			binary.LittleEndian.PutUint16(dst[2*i:], uint16(float16.Fromfloat32(f)))
		}
	case F32:
		dst = dst[:4*len(src)]
		for i, f := range src {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(f))
		}
	case F64:
		dst = dst[:8*len(src)]
		for i, f := range src {
			binary.LittleEndian.PutUint64(dst[8*i:], math.Float64bits(float64(f)))
		}
	default:
		panic("formats: EncodeFloat32 to " + dt.String())
	}
}

// ConvertFloat converts n elements from src (type st) into dst (type dt).
// Same-type conversion is a copy; F64 to a 16-bit type rounds through
// float32 as PyTorch's casts do (c10 converts double to float first).
func ConvertFloat(dst []byte, dt DType, src []byte, st DType, n int) {
	if dt == st {
		copy(dst[:n*dt.Size()], src[:n*st.Size()])
		return
	}
	switch {
	case st == F32 && dt == BF16:
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint16(dst[2*i:], Float32ToBF16(math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))))
		}
		return
	case st == BF16 && dt == F32:
		for i := 0; i < n; i++ {
			binary.LittleEndian.PutUint32(dst[4*i:], uint32(binary.LittleEndian.Uint16(src[2*i:]))<<16)
		}
		return
	}
	var buf [256]float32
	for i := 0; i < n; i += len(buf) {
		m := min(len(buf), n-i)
		DecodeFloat32(buf[:m], src[i*st.Size():], st)
		EncodeFloat32(dst[i*dt.Size():], buf[:m], dt)
	}
}

// FirstNonFinite returns the index of the first NaN or infinite element
// among the n elements of b (type dt), or -1 if all are finite. Non-float
// types are always finite.
//
// The 16- and 32-bit cases test four or two lanes per 64-bit word: an
// element is non-finite iff its exponent bits are all ones, i.e. iff the
// lane of (x & mask) ^ mask is zero, which the classic has-zero-lane test
// finds; the word is then searched lane by lane.
func FirstNonFinite(b []byte, dt DType, n int) int {
	switch dt {
	case BF16, F16:
		mask := uint64(0x7f807f807f807f80)
		if dt == F16 {
			mask = 0x7c007c007c007c00
		}
		i := 0
		for ; i+4 <= n; i += 4 {
			y := binary.LittleEndian.Uint64(b[2*i:])&mask ^ mask
			if (y-0x0001000100010001)&^y&0x8000800080008000 != 0 {
				break
			}
		}
		m16 := uint16(mask)
		for ; i < n; i++ {
			if binary.LittleEndian.Uint16(b[2*i:])&m16 == m16 {
				return i
			}
		}
	case F32:
		const mask = 0x7f8000007f800000
		i := 0
		for ; i+2 <= n; i += 2 {
			y := binary.LittleEndian.Uint64(b[4*i:])&mask ^ mask
			if (y-0x0000000100000001)&^y&0x8000000080000000 != 0 {
				break
			}
		}
		for ; i < n; i++ {
			if binary.LittleEndian.Uint32(b[4*i:])&0x7f800000 == 0x7f800000 {
				return i
			}
		}
	case F64:
		for i := 0; i < n; i++ {
			if binary.LittleEndian.Uint64(b[8*i:])&0x7ff0000000000000 == 0x7ff0000000000000 {
				return i
			}
		}
	}
	return -1
}
