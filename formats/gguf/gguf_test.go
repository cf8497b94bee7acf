package gguf

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/ggml"
)

func sampleFile(t testing.TB) []byte {
	kvs := []KV{
		{Key: "general.architecture", Value: "sambay"},
		{Key: "general.alignment", Value: uint32(32)},
		{Key: "a.u8", Value: uint8(7)}, {Key: "a.i16", Value: int16(-3)}, {Key: "a.f32", Value: float32(1.5)},
		{Key: "a.bool", Value: true}, {Key: "a.u64", Value: uint64(1 << 40)}, {Key: "a.f64", Value: 2.25},
		{Key: "a.arr", Value: Array{Type: TypeString, Values: []any{"x", "yz"}}},
		{Key: "a.bools", Value: Array{Type: TypeBool, Values: []any{true, false, true}}},
	}
	srcs := []Source{
		{Info: TensorInfo{Name: "w", Dims: []uint64{32, 3}, Type: 8}, EncodeRows: func(dst []byte, first, n int) error {
			for i := range dst {
				dst[i] = byte(first + i)
			}
			return nil
		}},
		{Info: TensorInfo{Name: "v", Dims: []uint64{5}, Type: 0}, EncodeRows: func(dst []byte, first, n int) error {
			for i := range dst {
				dst[i] = 0xab
			}
			return nil
		}},
	}
	p := filepath.Join(t.TempDir(), "s.gguf")
	if _, err := WriteFile(p, kvs, srcs, WriteOptions{Workers: 3, ChunkBytes: 40}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	b := sampleFile(t)
	f, err := NewFile(bytes.NewReader(b), int64(len(b)), "s.gguf")
	if err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{"general.architecture": "sambay", "a.u8": uint8(7), "a.i16": int16(-3), "a.f32": float32(1.5),
		"a.bool": true, "a.u64": uint64(1 << 40), "a.f64": 2.25} {
		if v, _ := f.Get(k); v != want {
			t.Errorf("%s = %v (%T), want %v", k, v, v, want)
		}
	}
	if a, _ := f.Get("a.arr"); len(a.(Array).Values) != 2 || a.(Array).Values[1] != "yz" {
		t.Errorf("array %v", a)
	}
	w, _ := f.Tensor("w")
	v, _ := f.Tensor("v")
	if w.Offset != 0 || v.Offset != 128 || f.DataOffset%32 != 0 {
		t.Errorf("offsets w %d v %d data %d", w.Offset, v.Offset, f.DataOffset)
	}
	d, _ := f.Data(w)
	for i := range d {
		// rows are 34 bytes; row r's bytes were filled from first = r
		if want := byte(i/34 + i%34); d[i] != want {
			t.Fatalf("w byte %d = %d, want %d", i, d[i], want)
		}
	}
	// The last tensor's padding is present: the file ends on the alignment.
	if int64(len(b)) != f.DataOffset+128+32 {
		t.Errorf("file size %d, want %d", len(b), f.DataOffset+160)
	}
}

func TestReaderErrors(t *testing.T) {
	unsupported := map[string]bool{"version_1": true, "version_4": true, "big_endian": true, "unknown_type": true, "type_beyond_ggml": true}
	good := sampleFile(t)
	hdr := func(mut func(b []byte) []byte) []byte { return mut(append([]byte(nil), good...)) }
	find := func(b []byte, s string) int { return bytes.Index(b, []byte(s)) }
	for _, c := range []struct {
		name string
		in   []byte
		msg  string
	}{
		{"bad_magic", hdr(func(b []byte) []byte { b[0] = 'X'; return b }), "magic"},
		{"truncated", good[:20], "past the end"},
		{"version_1", hdr(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 1); return b }), "GGUF version 1"},
		{"version_4", hdr(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 4); return b }), "GGUF version 4"},
		{"version_0", hdr(func(b []byte) []byte { binary.LittleEndian.PutUint32(b[4:], 0); return b }), "version 0"},
		{"big_endian", hdr(func(b []byte) []byte { binary.BigEndian.PutUint32(b[4:], 3); return b }), "big-endian"},
		{"tensor_count_huge", hdr(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[8:], 1<<60); return b }), "cannot fit"},
		{"string_too_long", hdr(func(b []byte) []byte { binary.LittleEndian.PutUint64(b[24:], 1<<40); return b }), "exceeds the limit"},
		{"duplicate_key", hdr(func(b []byte) []byte { copy(b[find(b, "a.i16"):], "a.f32"); return b }), `duplicate metadata key "a.f32"`},
		{"alignment_not_pow2", hdr(func(b []byte) []byte {
			i := find(b, "general.alignment") + len("general.alignment") + 4
			binary.LittleEndian.PutUint32(b[i:], 24)
			return b
		}), "power-of-two"},
		{"bad_value_type", hdr(func(b []byte) []byte {
			i := find(b, "a.u8") + 4
			binary.LittleEndian.PutUint32(b[i:], 99)
			return b
		}), "unknown value type"},
		{"wrong_offset", hdr(func(b []byte) []byte {
			i := find(b, "\x01\x00\x00\x00\x00\x00\x00\x00v") // name length of "v"
			off := i + 8 + 1 + 4 + 8 + 4
			binary.LittleEndian.PutUint64(b[off:], 96)
			return b
		}), "data offset 96, want 128"},
		{"unknown_type", hdr(func(b []byte) []byte {
			i := find(b, "\x01\x00\x00\x00\x00\x00\x00\x00v")
			binary.LittleEndian.PutUint32(b[i+8+1+4+8:], 4) // removed Q4_2
			return b
		}), "ggml type 4 is unknown"},
		{"type_beyond_ggml", hdr(func(b []byte) []byte {
			i := find(b, "\x01\x00\x00\x00\x00\x00\x00\x00v")
			binary.LittleEndian.PutUint32(b[i+8+1+4+8:], 43) // GGML_TYPE_COUNT at ggml d99724f
			return b
		}), "ggml type 43 is unknown"},
		{"ne0_not_block_multiple", hdr(func(b []byte) []byte {
			i := find(b, "\x01\x00\x00\x00\x00\x00\x00\x00w")
			binary.LittleEndian.PutUint64(b[i+8+1+4:], 33)
			return b
		}), "not a multiple"},
		{"too_many_dims", hdr(func(b []byte) []byte {
			i := find(b, "\x01\x00\x00\x00\x00\x00\x00\x00w")
			binary.LittleEndian.PutUint32(b[i+8+1:], 5)
			return b
		}), "dimensions"},
		{"data_cut_off", good[:len(good)-1], "tensor data needs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewFile(bytes.NewReader(c.in), int64(len(c.in)), "bad.gguf")
			if err == nil {
				t.Fatal("no error")
			}
			// Valid files this reader does not handle are ErrUnsupported, broken ones ErrFormat.
			kind, other := formats.ErrFormat, formats.ErrUnsupported
			if unsupported[c.name] {
				kind, other = other, kind
			}
			if !errors.Is(err, kind) || errors.Is(err, other) || !strings.Contains(err.Error(), "bad.gguf") || !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q (want %v, naming the file and saying %q)", err, kind, c.msg)
			}
		})
	}
}

func TestWriterRefuses(t *testing.T) {
	dir := t.TempDir()
	long := strings.Repeat("n", 64)
	for _, c := range []struct {
		name string
		kvs  []KV
		info TensorInfo
	}{
		{"long_name", nil, TensorInfo{Name: long, Dims: []uint64{32}, Type: 0}},
		{"ne0", nil, TensorInfo{Name: "x", Dims: []uint64{31, 2}, Type: 8}},
		{"dims", nil, TensorInfo{Name: "x", Dims: []uint64{1, 1, 1, 1, 1}, Type: 0}},
		{"dup_key", []KV{{Key: "a", Value: uint8(1)}, {Key: "a", Value: uint8(2)}}, TensorInfo{Name: "x", Dims: []uint64{1}, Type: 0}},
	} {
		p := filepath.Join(dir, c.name+".gguf")
		_, err := WriteFile(p, c.kvs, []Source{{Info: c.info, EncodeRows: func([]byte, int, int) error { return nil }}}, WriteOptions{})
		if err == nil {
			t.Errorf("%s: written", c.name)
		}
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s: a file was left", c.name)
		}
	}
	// An encoder error leaves nothing behind either.
	p := filepath.Join(dir, "enc.gguf")
	_, err := WriteFile(p, nil, []Source{{Info: TensorInfo{Name: "x", Dims: []uint64{32, 4}, Type: 0}, EncodeRows: func([]byte, int, int) error { return errors.New("row 2: boom") }}}, WriteOptions{})
	if err == nil || !strings.Contains(err.Error(), "tensor x") {
		t.Errorf("encoder error: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("%d files left", len(entries))
	}
}

// wrapFile is the four-tensor file whose sizes (2^62 bytes each) brought
// the uint64 sum of offsets back to 0 and made the reader hand out slices
// beyond the file.
func wrapFile() []byte {
	var infos []TensorInfo
	for i := 0; i < 4; i++ {
		infos = append(infos, TensorInfo{Name: fmt.Sprintf("t%d", i), Dims: []uint64{1 << 60}, Type: ggml.TypeF32, Offset: uint64(i) << 62})
	}
	var b bytes.Buffer
	b.WriteString(Magic)
	binary.Write(&b, binary.LittleEndian, uint32(3))
	binary.Write(&b, binary.LittleEndian, uint64(len(infos)))
	binary.Write(&b, binary.LittleEndian, uint64(0))
	for _, ti := range infos {
		binary.Write(&b, binary.LittleEndian, uint64(len(ti.Name)))
		b.WriteString(ti.Name)
		binary.Write(&b, binary.LittleEndian, uint32(1))
		binary.Write(&b, binary.LittleEndian, ti.Dims[0])
		binary.Write(&b, binary.LittleEndian, uint32(ti.Type))
		binary.Write(&b, binary.LittleEndian, ti.Offset)
	}
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	return b.Bytes()
}

func TestOffsetSumCannotWrap(t *testing.T) {
	b := wrapFile()
	_, err := NewFile(bytes.NewReader(b), int64(len(b)), "wrap.gguf")
	if !errors.Is(err, formats.ErrFormat) || !strings.Contains(err.Error(), "cannot fit") {
		t.Errorf("offsets summing past 2^64: %v", err)
	}
}
