package formats

import (
	"fmt"
	"io"
	"sync"
)

// Lazy views over other tensors. They read their sources only when their own
// bytes are read, a chunk at a time, so a whole model can be re-typed,
// re-ordered and written without holding more than a few chunks in memory.

const convertChunk = 1 << 16 // elements per conversion step

var chunkPool = sync.Pool{New: func() any { b := make([]byte, 0, convertChunk*8); return &b }}

// Converted returns a view of t with elements converted to dt (both float
// types of whole bytes: F16, BF16, F32, F64), rounding to nearest even.
// The view keeps t's name and shape. If t already has type dt, t is returned.
func Converted(t Tensor, dt DType) Tensor {
	if t.DType == dt {
		return t
	}
	return Tensor{Name: t.Name, DType: dt, Shape: t.Shape, File: t.File, r: converter{src: t, dt: dt}}
}

type converter struct {
	src Tensor
	dt  DType
}

func (c converter) ReadAt(p []byte, off int64) (int, error) {
	ds, ss := int64(c.dt.Size()), int64(c.src.DType.Size())
	n := c.src.NumElements()
	size := n * ds
	if off >= size {
		return 0, io.EOF
	}
	end := min(off+int64(len(p)), size)
	sbufp, dbufp := chunkPool.Get().(*[]byte), chunkPool.Get().(*[]byte)
	defer chunkPool.Put(sbufp)
	defer chunkPool.Put(dbufp)
	written := 0
	for e := off / ds; e*ds < end; e += convertChunk {
		m := min(convertChunk, n-e)
		sbuf := (*sbufp)[:m*ss]
		dbuf := (*dbufp)[:m*ds]
		if _, err := c.src.ReadAt(sbuf, e*ss); err != nil && err != io.EOF {
			return written, err
		}
		ConvertFloat(dbuf, c.dt, sbuf, c.src.DType, int(m))
		lo := max(off, e*ds) - e*ds
		hi := min(end, (e+m)*ds) - e*ds
		written += copy(p[written:], dbuf[lo:hi])
	}
	if written < len(p) {
		return written, io.EOF
	}
	return written, nil
}

// Zeros returns a tensor of the given type and shape whose bytes are all zero
// (the value +0 for every numeric type).
func Zeros(name string, dt DType, shape []int64) Tensor {
	t := Tensor{Name: name, DType: dt, Shape: shape, File: "(zeros)"}
	t.r = zeroReader{size: t.Size()}
	return t
}

type zeroReader struct{ size int64 }

func (z zeroReader) ReadAt(p []byte, off int64) (int, error) {
	if off >= z.size {
		return 0, io.EOF
	}
	n := int(min(int64(len(p)), z.size-off))
	clear(p[:n])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// A RowRange names rows [Start, Start+Count) of a tensor (rows = the first
// dimension; for a 1-D tensor, elements).
type RowRange struct {
	Src          Tensor
	Start, Count int64
}

// GatherRows returns a tensor of the given name and shape whose rows are the
// concatenation of the given row ranges. All sources must share the type and
// the row width (product of the dimensions after the first) of the result;
// the row count must add up. Used to split, join and permute projections.
func GatherRows(name string, shape []int64, parts []RowRange) (Tensor, error) {
	if len(parts) == 0 || len(shape) == 0 {
		return Tensor{}, fmt.Errorf("formats: GatherRows %s: no rows", name)
	}
	dt := parts[0].Src.DType
	width, err := NumElements(shape[1:])
	if err != nil {
		return Tensor{}, err
	}
	rowBytes, err := ByteSize(dt, width)
	if err != nil {
		return Tensor{}, err
	}
	var rows int64
	for _, p := range parts {
		srcRows := int64(1)
		srcWidth := int64(1)
		if len(p.Src.Shape) > 0 {
			srcRows = p.Src.Shape[0]
			srcWidth, _ = NumElements(p.Src.Shape[1:])
		}
		if p.Src.DType != dt || srcWidth != width {
			return Tensor{}, fmt.Errorf("formats: GatherRows %s: source %s is %v with rows of %d, want %v with rows of %d",
				name, p.Src.Name, p.Src.DType, srcWidth, dt, width)
		}
		if p.Start < 0 || p.Count < 0 || p.Start+p.Count > srcRows {
			return Tensor{}, fmt.Errorf("formats: GatherRows %s: rows [%d, %d) outside %s with %d rows",
				name, p.Start, p.Start+p.Count, p.Src.Name, srcRows)
		}
		rows += p.Count
	}
	if rows != shape[0] {
		return Tensor{}, fmt.Errorf("formats: GatherRows %s: %d rows gathered, shape %v wants %d", name, rows, shape, shape[0])
	}
	return Tensor{Name: name, DType: dt, Shape: shape, File: parts[0].Src.File, r: &gatherer{parts: parts, rowBytes: rowBytes}}, nil
}

type gatherer struct {
	parts    []RowRange
	rowBytes int64
}

func (g *gatherer) ReadAt(p []byte, off int64) (int, error) {
	written := 0
	var base int64 // byte offset of the current part in the result
	for _, part := range g.parts {
		size := part.Count * g.rowBytes
		if off+int64(written) < base+size && len(p) > written {
			lo := off + int64(written) - base
			m := int(min(int64(len(p)-written), size-lo))
			n, err := part.Src.ReadAt(p[written:written+m], part.Start*g.rowBytes+lo)
			written += n
			if err != nil && !(err == io.EOF && n == m) {
				return written, err
			}
		}
		base += size
	}
	if written < len(p) {
		return written, io.EOF
	}
	return written, nil
}

// RowMapped returns a tensor whose bytes are produced row by row by fill,
// which writes row r (rowBytes long) into dst. Reading any range computes
// the rows that overlap it. A row that a read ends inside is kept, so that
// reading the tensor in consecutive chunks computes every row once.
func RowMapped(name string, dt DType, shape []int64, rowBytes int64, fill func(r int, dst []byte) error) Tensor {
	t := Tensor{Name: name, DType: dt, Shape: shape, File: "(computed)"}
	t.r = &rowMapper{rowBytes: rowBytes, size: t.Size(), fill: fill, last: -1}
	return t
}

type rowMapper struct {
	rowBytes, size int64
	fill           func(r int, dst []byte) error

	mu      sync.Mutex
	last    int64  // the row kept, or −1
	lastRow []byte // its bytes
}

func (m *rowMapper) ReadAt(p []byte, off int64) (int, error) {
	if off >= m.size {
		return 0, io.EOF
	}
	end := min(m.size, off+int64(len(p)))
	row := make([]byte, m.rowBytes)
	written := 0
	for r := off / m.rowBytes; r*m.rowBytes < end; r++ {
		m.mu.Lock()
		kept := m.last == r
		if kept {
			copy(row, m.lastRow)
		}
		m.mu.Unlock()
		if !kept {
			if err := m.fill(int(r), row); err != nil {
				return written, err
			}
		}
		lo := max(off, r*m.rowBytes) - r*m.rowBytes
		hi := min(end, (r+1)*m.rowBytes) - r*m.rowBytes
		written += copy(p[written:], row[lo:hi])
		if hi < m.rowBytes && !kept {
			m.mu.Lock()
			m.last, m.lastRow = r, append(m.lastRow[:0], row...)
			m.mu.Unlock()
		}
	}
	if written < len(p) {
		return written, io.EOF
	}
	return written, nil
}
