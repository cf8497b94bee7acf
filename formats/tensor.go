package formats

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"strings"
	"unsafe"
)

// A Tensor is a lazy view of one tensor in a file: its name, element type,
// shape (PyTorch order, row-major) and a source of its bytes. Readers make
// Tensors without reading any data; the bytes are read only when asked for,
// and different Tensors may be read concurrently.
type Tensor struct {
	Name  string
	DType DType
	Shape []int64
	File  string // the file the bytes come from, for error messages

	r   io.ReaderAt // bytes [0, Size())
	mem []byte      // the same bytes when directly addressable (mmap), else nil
}

// NewTensor returns a Tensor whose Size() bytes are read from r at offsets
// 0…Size()-1. The caller has checked that the shape's element count does
// not overflow (see NumElements).
func NewTensor(name string, dt DType, shape []int64, file string, r io.ReaderAt) Tensor {
	return Tensor{Name: name, DType: dt, Shape: shape, File: file, r: r}
}

// NewTensorBytes returns a Tensor over b, which must hold exactly Size() bytes.
func NewTensorBytes(name string, dt DType, shape []int64, file string, b []byte) Tensor {
	return Tensor{Name: name, DType: dt, Shape: shape, File: file, r: BytesReaderAt(b), mem: b}
}

// NumElements returns the product of shape, or an error when a dimension is
// negative or the product does not fit in an int64.
func NumElements(shape []int64) (int64, error) {
	n := int64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, fmt.Errorf("negative dimension %d in shape %v", d, shape)
		}
		if d != 0 && n > math.MaxInt64/d {
			return 0, fmt.Errorf("shape %v: element count overflows int64", shape)
		}
		n *= d
	}
	return n, nil
}

// ByteSize returns the number of bytes of n elements of dt, or an error on
// overflow or when the bit count is not a whole number of bytes.
func ByteSize(dt DType, n int64) (int64, error) {
	bits := int64(dt.Bits())
	if bits == 0 {
		return 0, fmt.Errorf("invalid dtype %v", dt)
	}
	if n > math.MaxInt64/bits {
		return 0, fmt.Errorf("%d elements of %v overflow int64 bytes", n, dt)
	}
	if n*bits%8 != 0 {
		return 0, fmt.Errorf("%d elements of %v are not a whole number of bytes", n, dt)
	}
	return n * bits / 8, nil
}

// NumElements returns the element count of t (shape checked by its reader).
func (t Tensor) NumElements() int64 {
	n, _ := NumElements(t.Shape)
	return n
}

// Size returns the byte size of t.
func (t Tensor) Size() int64 {
	s, _ := ByteSize(t.DType, t.NumElements())
	return s
}

// ReadAt reads bytes of t starting at byte offset off (io.ReaderAt).
func (t Tensor) ReadAt(p []byte, off int64) (int, error) {
	size := t.Size()
	if off < 0 {
		return 0, fmt.Errorf("formats: tensor %s: negative offset", t.Name)
	}
	if off >= size {
		if len(p) == 0 {
			return 0, nil
		}
		return 0, io.EOF
	}
	var short bool
	if rem := size - off; int64(len(p)) > rem {
		p, short = p[:rem], true
	}
	n, err := t.r.ReadAt(p, off)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	if err == nil && short {
		err = io.EOF
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("%s: tensor %s: %w", t.File, t.Name, err)
	}
	return n, err
}

// Reader returns a reader of all bytes of t.
func (t Tensor) Reader() io.Reader { return io.NewSectionReader(t, 0, t.Size()) }

// Bytes returns the bytes of t: the mapped memory itself when t lies in an
// mmapped file (do not modify it), else a fresh copy.
func (t Tensor) Bytes() ([]byte, error) {
	if t.mem != nil {
		return t.mem, nil
	}
	b := make([]byte, t.Size())
	if _, err := io.ReadFull(t.Reader(), b); err != nil {
		return nil, err
	}
	return b, nil
}

// Float32s returns the elements of t widened exactly to float32 (F64 is
// rounded to nearest). Only float dtypes are accepted.
func (t Tensor) Float32s() ([]float32, error) {
	if !t.DType.IsFloat() {
		return nil, Errorf(ErrUnsupported, t.File, t.Name, -1, "dtype %v is not a float type", t.DType)
	}
	out := make([]float32, t.NumElements())
	if err := t.ReadFloat32(out, 0); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadFloat32 reads len(dst) elements of t starting at element first,
// widened exactly to float32 (F64 rounded to nearest). F32 on a
// little-endian machine is read straight into dst, with no decoding pass
// and no staging buffer; other dtypes go through one.
func (t Tensor) ReadFloat32(dst []float32, first int64) error {
	if !t.DType.IsFloat() {
		return Errorf(ErrUnsupported, t.File, t.Name, -1, "dtype %v is not a float type", t.DType)
	}
	if len(dst) == 0 {
		return nil
	}
	es := int64(t.DType.Size())
	if t.DType == F32 && littleEndian {
		b := unsafe.Slice((*byte)(unsafe.Pointer(&dst[0])), 4*len(dst))
		if _, err := t.ReadAt(b, first*es); err != nil {
			return err
		}
		return nil
	}
	raw := make([]byte, int64(len(dst))*es)
	if _, err := t.ReadAt(raw, first*es); err != nil {
		return err
	}
	DecodeFloat32(dst, raw, t.DType)
	return nil
}

// littleEndian reports whether float32 values in memory are laid out as
// safetensors and GGUF store them.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// ShapeString formats a shape as [a, b, c].
func ShapeString(shape []int64) string {
	var sb strings.Builder
	sb.WriteByte('[')
	for i, d := range shape {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprint(&sb, d)
	}
	sb.WriteByte(']')
	return sb.String()
}

// EqualShape reports whether two shapes are identical.
func EqualShape(a, b []int64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// BytesReaderAt reads from a byte slice (io.ReaderAt).
type BytesReaderAt []byte

// ReadAt implements io.ReaderAt.
func (b BytesReaderAt) ReadAt(p []byte, off int64) (int, error) {
	if off < 0 || off > int64(len(b)) {
		return 0, io.EOF
	}
	n := copy(p, b[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// Must returns Bytes() and panics on error: for tests and benchmarks over
// in-memory tensors.
func (t Tensor) Must() []byte {
	b, err := t.Bytes()
	if err != nil {
		panic(err)
	}
	return b
}
