package safetensors

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/formats"
)

// file builds a safetensors file from a raw header and data size.
func file(header string, data int) []byte {
	b := make([]byte, 8, 8+len(header)+data)
	binary.LittleEndian.PutUint64(b, uint64(len(header)))
	b = append(b, header...)
	return append(b, make([]byte, data)...)
}

func parseBytes(b []byte) (*File, error) {
	return NewFile(bytes.NewReader(b), int64(len(b)), "test.safetensors")
}

func TestReaderErrors(t *testing.T) {
	tooBig := make([]byte, 8)
	binary.LittleEndian.PutUint64(tooBig, 1<<40)
	beyond := make([]byte, 16)
	binary.LittleEndian.PutUint64(beyond, 100)
	for _, c := range []struct {
		name   string
		in     []byte
		kind   error
		tensor string
		msg    string
	}{
		{"truncated_prefix", []byte{1, 2, 3}, formats.ErrFormat, "", "shorter than the 8-byte header length"},
		{"header_length_over_cap", tooBig, formats.ErrFormat, "", "exceeds the limit"},
		{"header_length_beyond_file", beyond, formats.ErrFormat, "", "runs past the end"},
		{"not_an_object", file(`[1,2]   `, 0), formats.ErrFormat, "", "does not start with '{'"},
		{"leading_space", file(` {}     `, 0), formats.ErrFormat, "", "does not start with '{'"},
		{"trailing_garbage", file(`{}xx    `, 0), formats.ErrFormat, "", "after the header object"},
		{"duplicate_name", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}`, 2), formats.ErrFormat, "a", "duplicate name"},
		{"unknown_key", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}`, 1), formats.ErrFormat, "a", `unknown key "x"`},
		{"missing_shape", file(`{"a":{"dtype":"U8","data_offsets":[0,1]}}`, 1), formats.ErrFormat, "a", "missing shape"},
		{"unknown_dtype", file(`{"a":{"dtype":"Q4","shape":[1],"data_offsets":[0,1]}}`, 1), formats.ErrFormat, "a", `unknown dtype "Q4"`},
		{"negative_dim", file(`{"a":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}`, 1), formats.ErrFormat, "a", "not a non-negative integer"},
		{"fractional_offset", file(`{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1.5]}}`, 1), formats.ErrFormat, "a", "not a non-negative integer"},
		{"size_mismatch", file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}`, 4), formats.ErrFormat, "a", "needs 8"},
		{"overlapping_offsets", file(`{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}`, 6), formats.ErrFormat, "b", "overlap"},
		{"hole", file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"U8","shape":[2],"data_offsets":[4,6]}}`, 6), formats.ErrFormat, "b", "hole"},
		{"first_not_zero", file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}`, 4), formats.ErrFormat, "a", "hole"},
		{"data_shorter", file(`{"a":{"dtype":"U8","shape":[8],"data_offsets":[0,8]}}`, 4), formats.ErrFormat, "", "tensors cover 8 bytes of data but the file holds 4"},
		{"data_longer", file(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, 4), formats.ErrFormat, "", "tensors cover 2 bytes"},
		{"shape_overflow", file(`{"a":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,0]}}`, 0), formats.ErrFormat, "a", "overflows"},
		{"metadata_not_strings", file(`{"__metadata__":{"a":1}}`, 0), formats.ErrFormat, "", "not a string"},
		{"invalid_utf8", file("{\"\xff\":{}}", 0), formats.ErrFormat, "", "UTF-8"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := parseBytes(c.in)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("error %v is not %v", err, c.kind)
			}
			var fe *formats.FormatError
			if !errors.As(err, &fe) {
				t.Fatalf("error %T is not a *formats.FormatError", err)
			}
			if fe.Tensor != c.tensor || fe.File != "test.safetensors" {
				t.Errorf("error names file %q tensor %q, want test.safetensors / %q", fe.File, fe.Tensor, c.tensor)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not say %q", err, c.msg)
			}
		})
	}
}

func TestReaderAcceptsEveryDtype(t *testing.T) {
	// F8 and sub-byte types parse: the file is valid, a caller that cannot
	// use a tensor rejects that tensor alone.
	f, err := parseBytes(file(`{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]},"b":{"dtype":"F4","shape":[4],"data_offsets":[2,4]},"c":{"dtype":"BF16","shape":[],"data_offsets":[4,6]},"d":{"dtype":"F32","shape":[0,5],"data_offsets":[6,6]}}`, 6))
	if err != nil {
		t.Fatal(err)
	}
	a, _ := f.Tensor("a")
	if a.DType != formats.F8_E4M3 {
		t.Errorf("a is %v", a.DType)
	}
	if _, err := a.Float32s(); !errors.Is(err, formats.ErrUnsupported) {
		t.Errorf("Float32s of F8: %v, want ErrUnsupported", err)
	}
	c, _ := f.Tensor("c")
	if c.NumElements() != 1 || len(c.Shape) != 0 {
		t.Errorf("scalar: %d elements, shape %v", c.NumElements(), c.Shape)
	}
	d, _ := f.Tensor("d")
	if d.Size() != 0 {
		t.Errorf("empty tensor has %d bytes", d.Size())
	}
}

func randTensors(r *rand.Rand) []formats.Tensor {
	var ts []formats.Tensor
	dts := []formats.DType{formats.F32, formats.BF16, formats.F16, formats.I64, formats.U8, formats.F8_E5M2}
	for i := 0; i < 12; i++ {
		dt := dts[r.Intn(len(dts))]
		shape := []int64{int64(1 + r.Intn(5)), int64(1 + r.Intn(7))}
		n := shape[0] * shape[1] * int64(dt.Size())
		b := make([]byte, n)
		r.Read(b)
		ts = append(ts, formats.NewTensorBytes(string(rune('a'+i))+".weight", dt, shape, "mem", b))
	}
	return ts
}

func TestWriteReadRoundTripAndOrderIndependence(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	ts := randTensors(r)
	dir := t.TempDir()
	var first []byte
	for i := 0; i < 6; i++ {
		r.Shuffle(len(ts), func(a, b int) { ts[a], ts[b] = ts[b], ts[a] })
		p := filepath.Join(dir, "x.safetensors")
		wf, _, err := WriteFile(p, ts, WriteOptions{Metadata: map[string]string{"format": "pt"}})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := os.ReadFile(p)
		if wf.Size != int64(len(b)) {
			t.Errorf("reported size %d, file %d", wf.Size, len(b))
		}
		if first == nil {
			first = b
		} else if !bytes.Equal(first, b) {
			t.Fatalf("shuffle %d: output bytes depend on input order", i)
		}
	}
	f, err := Open(filepath.Join(dir, "x.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["format"] != "pt" {
		t.Errorf("metadata %v", f.Metadata)
	}
	if (f.DataOffset)%8 != 0 {
		t.Errorf("data starts at %d, not 8-aligned", f.DataOffset)
	}
	for _, want := range ts {
		got, ok := f.Tensor(want.Name)
		if !ok {
			t.Fatalf("%s missing", want.Name)
		}
		gb, _ := got.Bytes()
		wb, _ := want.Bytes()
		if got.DType != want.DType || !formats.EqualShape(got.Shape, want.Shape) || !bytes.Equal(gb, wb) {
			t.Errorf("%s differs after round trip", want.Name)
		}
	}
	// Every tensor's absolute offset is a multiple of its element size.
	var pos = f.DataOffset
	for _, tn := range f.Tensors {
		if es := int64(tn.DType.Size()); es > 0 && pos%es != 0 {
			t.Errorf("%s at %d is not aligned to %d", tn.Name, pos, es)
		}
		pos += tn.Size()
	}
}

func TestWriteModelShardsAndIndex(t *testing.T) {
	r := rand.New(rand.NewSource(2))
	ts := randTensors(r)
	var total int64
	for _, tn := range ts {
		total += tn.Size()
	}
	dir := t.TempDir()
	res, err := WriteModel(dir, ts, WriteOptions{MaxShardSize: total / 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Files) < 4 || res.Files[len(res.Files)-1].Name != IndexName {
		t.Fatalf("want ≥3 shards and an index, got %v", res.Files)
	}
	m, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if m.TotalSize != total || len(m.Tensors) != len(ts) || len(m.Warnings) != 0 {
		t.Errorf("reopened: %d bytes (want %d), %d tensors, warnings %v", m.TotalSize, total, len(m.Tensors), m.Warnings)
	}
	for _, f := range m.Files {
		var sz int64
		for _, tn := range f.Tensors {
			sz += tn.Size()
		}
		if sz > total/3 && len(f.Tensors) > 1 {
			t.Errorf("shard %s holds %d bytes > cap %d", f.Name, sz, total/3)
		}
	}
}

func writeModelDir(t *testing.T) (string, []formats.Tensor) {
	t.Helper()
	ts := randTensors(rand.New(rand.NewSource(3)))
	dir := t.TempDir()
	if _, err := WriteModel(dir, ts, WriteOptions{MaxShardSize: 100}); err != nil {
		t.Fatal(err)
	}
	return dir, ts
}

func TestIndexErrors(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(idx map[string]any, dir string)
		tensor string
		msg    string
	}{
		{"missing_shard", func(idx map[string]any, dir string) {
			idx["weight_map"].(map[string]any)["a.weight"] = "model-00099-of-00099.safetensors"
		}, "a.weight", "does not exist"},
		{"tensor_not_in_shard", func(idx map[string]any, dir string) {
			wm := idx["weight_map"].(map[string]any)
			wm["zz.weight"] = wm["a.weight"]
		}, "zz.weight", "does not contain it"},
		{"tensor_not_listed", func(idx map[string]any, dir string) {
			delete(idx["weight_map"].(map[string]any), "b.weight")
		}, "b.weight", "not listed"},
		{"listed_under_other_shard", func(idx map[string]any, dir string) {
			wm := idx["weight_map"].(map[string]any)
			a, b := wm["a.weight"], wm["l.weight"]
			if a == b {
				b = wm["c.weight"]
			}
			wm["a.weight"] = b
		}, "a.weight", ""},
		{"path_traversal", func(idx map[string]any, dir string) {
			idx["weight_map"].(map[string]any)["a.weight"] = "../etc/passwd"
		}, "", "not a plain file name"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir, _ := writeModelDir(t)
			p := filepath.Join(dir, IndexName)
			b, _ := os.ReadFile(p)
			var idx map[string]any
			if err := jsonUnmarshal(b, &idx); err != nil {
				t.Fatal(err)
			}
			c.mutate(idx, dir)
			nb, _ := jsonMarshal(idx)
			os.WriteFile(p, nb, 0o644)
			_, err := OpenModel(dir)
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, formats.ErrFormat) {
				t.Errorf("%v is not ErrFormat", err)
			}
			if c.tensor != "" && !strings.Contains(err.Error(), c.tensor) {
				t.Errorf("error %q does not name %s", err, c.tensor)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not say %q", err, c.msg)
			}
		})
	}
}

func TestIndexTotalSizeMismatchWarns(t *testing.T) {
	dir, _ := writeModelDir(t)
	p := filepath.Join(dir, IndexName)
	b, _ := os.ReadFile(p)
	var idx map[string]any
	jsonUnmarshal(b, &idx)
	idx["metadata"] = map[string]any{"total_size": 1}
	nb, _ := jsonMarshal(idx)
	os.WriteFile(p, nb, 0o644)
	m, err := OpenModel(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if len(m.Warnings) != 1 || !strings.Contains(m.Warnings[0], "total_size 1") {
		t.Errorf("warnings %v", m.Warnings)
	}
}

func TestAmbiguousFolder(t *testing.T) {
	dir := t.TempDir()
	ts := randTensors(rand.New(rand.NewSource(4)))
	WriteFile(filepath.Join(dir, "a.safetensors"), ts[:2], WriteOptions{})
	WriteFile(filepath.Join(dir, "b.safetensors"), ts[2:4], WriteOptions{})
	if _, err := OpenModel(dir); err == nil || !strings.Contains(err.Error(), "ambiguous") {
		t.Errorf("two shards without index: %v", err)
	}
}

func TestLoneSurrogate(t *testing.T) {
	for hdr, want := range map[string]bool{
		`{"a\ud800":{}}`:       true,
		`{"a\udc00":{}}`:       true,
		`{"a\ud83d\ude00":{}}`: false,
		`{"a\\ud800":{}}`:      false, // an escaped backslash, then text
		`{"a\u00e9":{}}`:       false,
		`{"a\ud800\u0041":{}}`: true,
	} {
		if got := loneSurrogate([]byte(hdr)) >= 0; got != want {
			t.Errorf("%s: lone surrogate %v, want %v", hdr, got, want)
		}
	}
	if _, err := ParseHeader([]byte(`{"w\ud800":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}`)); err == nil || !strings.Contains(err.Error(), "surrogate") {
		t.Errorf("ParseHeader: %v", err)
	}
}

// bigHeader is a header of n one-element F32 entries with long names.
func bigHeader(n int) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"model.layers.%d.mixer.some_long_tensor_name.weight":{"dtype":"F32","shape":[1],"data_offsets":[%d,%d]}`, i, 4*i, 4*i+4)
	}
	b.WriteByte('}')
	return b.Bytes()
}

// BenchmarkParseHeader parses a 12 MB header of 100,000 entries by
// scanning it in place (scan) and through encoding/json's token decoder
// (decoder, the baseline, which the parser used before).
func BenchmarkParseHeader(b *testing.B) {
	hdr := bigHeader(100_000)
	for _, c := range []struct {
		name string
		scan bool
	}{{"decoder", false}, {"scan", true}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(hdr)))
			for b.Loop() {
				if _, err := parseHeader(hdr, c.scan); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
