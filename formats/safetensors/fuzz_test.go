package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	nlpst "github.com/nlpodyssey/safetensors"

	"github.com/sambay-conv/sambay-conv/formats"
)

func addSeeds(f *testing.F) {
	f.Add(file(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`, 8))
	f.Add(file(`{"__metadata__":{"format":"pt"},"a":{"dtype":"BF16","shape":[1,2],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[],"data_offsets":[4,5]}}`, 5))
	f.Add(file(`{"a":{"dtype":"F8_E4M3","shape":[3],"data_offsets":[0,3]}}`, 3))
	paths, _ := filepath.Glob("../../testdata/*/hf/model.safetensors")
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
}

// FuzzHeader parses arbitrary files. Whatever parses must re-write to a file
// that parses to the same tensors; the parser must agree with the
// independent nlpodyssey/safetensors reader on every file both can express
// (no F8/F4/F6/C64 dtypes; that reader also accepts what ours refuses —
// duplicate names, unknown keys, leading whitespace — so only "ours accepts
// ⇒ theirs accepts" is checked).
func FuzzHeader(f *testing.F) {
	addSeeds(f)
	// One file per fuzz worker process (a worker runs inputs one at a time):
	// a t.TempDir per input makes the fuzzer crawl.
	p := filepath.Join(f.TempDir(), "re.safetensors")
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		ours, err := parseBytes(b)
		if err != nil {
			return
		}
		exotic := false
		for _, tn := range ours.Tensors {
			switch tn.DType {
			case formats.F4, formats.F6_E2M3, formats.F6_E3M2, formats.F8_E5M2, formats.F8_E4M3,
				formats.F8_E8M0, formats.F8_E4M3FNUZ, formats.F8_E5M2FNUZ, formats.C64:
				exotic = true
			}
		}
		if !exotic {
			if _, err := nlpst.Deserialize(b); err != nil && !strings.Contains(err.Error(), "overflow") {
				t.Fatalf("our reader accepts a file that nlpodyssey/safetensors rejects: %v", err)
			}
		}
		// Re-write without the fsync of WriteFile: the fuzzer runs this
		// thousands of times a second, and durability is not what it tests.
		out, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = writeTo(out, p, ours.Tensors, WriteOptions{Metadata: ours.Metadata})
		out.Close()
		if err != nil {
			t.Fatalf("re-write: %v", err)
		}
		again, err := Open(p)
		if err != nil {
			t.Fatalf("re-read: %v", err)
		}
		defer again.Close()
		if len(again.Tensors) != len(ours.Tensors) {
			t.Fatalf("re-read %d tensors, had %d", len(again.Tensors), len(ours.Tensors))
		}
		for _, tn := range ours.Tensors {
			g, ok := again.Tensor(tn.Name)
			if !ok {
				t.Fatalf("%q lost in round trip", tn.Name)
			}
			a, _ := tn.Bytes()
			c, _ := g.Bytes()
			if !bytes.Equal(a, c) || g.DType != tn.DType || !formats.EqualShape(g.Shape, tn.Shape) {
				t.Fatalf("%q changed in round trip", tn.Name)
			}
		}
	})
}

// FuzzIndex parses arbitrary index documents: never a panic, and accepted
// shard names are always plain file names.
func FuzzIndex(f *testing.F) {
	f.Add([]byte(`{"metadata":{"total_size":8},"weight_map":{"a":"model-00001-of-00002.safetensors"}}`))
	f.Add([]byte(`{"weight_map":{"a":"x.safetensors","a":"y.safetensors"}}`))
	if b, err := os.ReadFile("../../testdata/phi4flash-tiny/hf-sharded/model.safetensors.index.json"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, wm, err := ParseIndex(b)
		if err != nil {
			return
		}
		for name, file := range wm {
			if strings.ContainsAny(file, `/\`) || strings.Contains(file, "..") || file == "" {
				t.Fatalf("tensor %q mapped to unsafe shard name %q", name, file)
			}
		}
	})
}

// FuzzHeaderScan parses arbitrary headers both ways, scanning valid JSON
// in place and through encoding/json's token decoder: the two must accept
// the same headers and give the same entries, metadata and data size.
func FuzzHeaderScan(f *testing.F) {
	f.Add([]byte(`{"__metadata__":{"a":"b"},"w\u00e9":{"dtype":"F32","shape":[2, 1],"data_offsets":[0,8]}}  `))
	f.Add([]byte(`{ "a" : { "shape" : [ ] , "dtype" : "BF16" , "data_offsets" : [ 0 , 2 ] , "shape" : [1] } }`))
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[-0],"data_offsets":[0,0]},"b\"":{"dtype":"U8","shape":["1"],"data_offsets":[0,1]}}`))
	f.Add([]byte(`{"a":{"dtype":"F32","shape":[1e0],"data_offsets":[0,4]}}`))
	f.Fuzz(func(t *testing.T, hdr []byte) {
		if len(hdr) > 1<<16 {
			return
		}
		fast, errF := parseHeader(hdr, true)
		slow, errS := parseHeader(hdr, false)
		if (errF == nil) != (errS == nil) {
			t.Fatalf("scan: %v; decoder: %v", errF, errS)
		}
		if errF == nil && !reflect.DeepEqual(fast, slow) {
			t.Fatalf("scan %+v; decoder %+v", fast, slow)
		}
	})
}
