package gguf

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
)

// A Source is one tensor to write: its info (Offset is computed by the
// writer) and an encoder that fills the bytes of rows [first, first+n),
// each RowBytes long. Rows are the product of the dimensions after ne[0].
type Source struct {
	Info       TensorInfo
	EncodeRows func(dst []byte, first, n int) error
}

// WriteOptions control WriteFile.
type WriteOptions struct {
	Workers    int   // encoding goroutines (default GOMAXPROCS)
	ChunkBytes int64 // target output bytes per work item (default 256 KiB: each worker's buffer is touched fresh once, and a page fault costs more than the extra write calls)
	// Progress, when set, is called with the tensor bytes just written
	// (from the worker goroutines; it must be safe for concurrent use).
	Progress func(n int64)
}

// Header returns the encoded header (through the padding before the data
// section) for kvs and tensors, with every tensor's Offset filled in, and
// the total file size. It checks every rule the reader enforces.
func Header(kvs []KV, tensors []TensorInfo) ([]byte, int64, error) {
	alignment := uint64(DefaultAlignment)
	seen := map[string]bool{}
	var b bytes.Buffer
	b.WriteString(Magic)
	binary.Write(&b, binary.LittleEndian, uint32(Version))
	binary.Write(&b, binary.LittleEndian, uint64(len(tensors)))
	binary.Write(&b, binary.LittleEndian, uint64(len(kvs)))
	str := func(s string) {
		binary.Write(&b, binary.LittleEndian, uint64(len(s)))
		b.WriteString(s)
	}
	var scalar func(v any) error
	scalar = func(v any) error {
		switch x := v.(type) {
		case string:
			str(x)
		case bool:
			if x {
				b.WriteByte(1)
			} else {
				b.WriteByte(0)
			}
		case uint8, int8, uint16, int16, uint32, int32, uint64, int64:
			binary.Write(&b, binary.LittleEndian, x)
		case float32:
			binary.Write(&b, binary.LittleEndian, math.Float32bits(x))
		case float64:
			binary.Write(&b, binary.LittleEndian, math.Float64bits(x))
		default:
			return fmt.Errorf("unsupported value %T", v)
		}
		return nil
	}
	for _, kv := range kvs {
		if kv.Key == "" || seen[kv.Key] {
			return nil, 0, fmt.Errorf("gguf: empty or duplicate key %q", kv.Key)
		}
		seen[kv.Key] = true
		t, ok := TypeOf(kv.Value)
		if !ok {
			return nil, 0, fmt.Errorf("gguf: key %s: unsupported value %T", kv.Key, kv.Value)
		}
		if kv.Key == "general.alignment" {
			a, ok := kv.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return nil, 0, fmt.Errorf("gguf: general.alignment must be a power-of-two uint32")
			}
			alignment = uint64(a)
		}
		str(kv.Key)
		binary.Write(&b, binary.LittleEndian, uint32(t))
		if a, isArr := kv.Value.(Array); isArr {
			if a.Type == TypeArray || a.Type >= numValueTypes {
				return nil, 0, fmt.Errorf("gguf: key %s: array of type %d", kv.Key, a.Type)
			}
			binary.Write(&b, binary.LittleEndian, uint32(a.Type))
			binary.Write(&b, binary.LittleEndian, uint64(len(a.Values)))
			for _, v := range a.Values {
				if et, ok := TypeOf(v); !ok || et != a.Type {
					return nil, 0, fmt.Errorf("gguf: key %s: element %T in an array of type %d", kv.Key, v, a.Type)
				}
				if err := scalar(v); err != nil {
					return nil, 0, err
				}
			}
		} else if err := scalar(kv.Value); err != nil {
			return nil, 0, fmt.Errorf("gguf: key %s: %v", kv.Key, err)
		}
	}
	names := map[string]bool{}
	var off uint64
	for i := range tensors {
		t := &tensors[i]
		// ggml's reader (gguf.cpp) refuses names of GGML_MAX_NAME bytes or
		// more and duplicates, nothing else: an empty name loads, so the
		// writer takes what the reader takes.
		if len(t.Name) > MaxNameLen || names[t.Name] {
			return nil, 0, fmt.Errorf("gguf: tensor name %q duplicate or longer than %d bytes", t.Name, MaxNameLen)
		}
		names[t.Name] = true
		if len(t.Dims) > MaxDims {
			return nil, 0, fmt.Errorf("gguf: tensor %s has %d dims (at most %d)", t.Name, len(t.Dims), MaxDims)
		}
		sz, err := t.Size()
		if err != nil {
			return nil, 0, fmt.Errorf("gguf: tensor %s: %v", t.Name, err)
		}
		t.Offset = off
		off += align(uint64(sz), alignment)
		str(t.Name)
		binary.Write(&b, binary.LittleEndian, uint32(len(t.Dims)))
		for _, d := range t.Dims {
			binary.Write(&b, binary.LittleEndian, d)
		}
		binary.Write(&b, binary.LittleEndian, t.Type)
		binary.Write(&b, binary.LittleEndian, t.Offset)
	}
	for uint64(b.Len())%alignment != 0 {
		b.WriteByte(0)
	}
	return b.Bytes(), int64(b.Len()) + int64(off), nil
}

// WriteFile writes a GGUF file at path: header first, then every tensor's
// rows encoded by a pool of workers and written at their offsets. The file
// is written under a temporary name in the same folder and renamed into
// place only when complete; on error nothing is left at path.
func WriteFile(path string, kvs []KV, srcs []Source, opts WriteOptions) (int64, error) {
	infos := make([]TensorInfo, len(srcs))
	for i := range srcs {
		infos[i] = srcs[i].Info
	}
	hdr, total, err := Header(kvs, infos)
	if err != nil {
		return 0, err
	}
	tmp, err := atomicfile.Create(path)
	if err != nil {
		return 0, err
	}
	defer tmp.Cleanup()
	// Truncate to the full size: the alignment padding (the last tensor's
	// included) is zero bytes the loader requires to be present.
	if err := tmp.Truncate(total); err != nil {
		return 0, err
	}
	if _, err := tmp.WriteAt(hdr, 0); err != nil {
		return 0, err
	}
	base := int64(len(hdr))
	type item struct{ src, first, n int }
	chunk := opts.ChunkBytes
	if chunk <= 0 {
		chunk = 256 << 10
	}
	var items []item
	for i := range srcs {
		rows, rowBytes := rowsOf(&infos[i])
		if rows == 0 {
			continue
		}
		per := int(max(1, chunk/max(1, rowBytes)))
		for r := 0; r < rows; r += per {
			items = append(items, item{i, r, min(per, rows-r)})
		}

	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	work := make(chan item)
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		firstErr error
	)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for it := range work {
				mu.Lock()
				stop := firstErr != nil
				mu.Unlock()
				if stop {
					continue
				}
				_, rowBytes := rowsOf(&infos[it.src])
				need := int(rowBytes) * it.n
				if cap(buf) < need {
					buf = make([]byte, need)
				}
				b := buf[:need]
				err := srcs[it.src].EncodeRows(b, it.first, it.n)
				if err == nil {
					_, err = tmp.WriteAt(b, base+int64(infos[it.src].Offset)+int64(it.first)*rowBytes)
				}
				if err == nil && opts.Progress != nil {
					opts.Progress(int64(len(b)))
				}
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("gguf: tensor %s: %w", infos[it.src].Name, err)
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, it := range items {
		work <- it
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return 0, firstErr
	}
	if err := tmp.Commit(); err != nil {
		return 0, err
	}
	return total, nil
}

// rowsOf returns the row count (product of dims after ne[0]) and bytes per row.
func rowsOf(t *TensorInfo) (int, int64) {
	ne0 := int64(1)
	rows := 1
	for i, d := range t.Dims {
		if i == 0 {
			ne0 = int64(d)
		} else {
			rows *= int(d)
		}
	}
	if ne0 == 0 {
		return 0, 0
	}
	return rows, int64(t.Type.RowBytes(int(ne0)))
}
