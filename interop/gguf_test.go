package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	parser "github.com/gpustack/gguf-parser-go"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats/gguf"
)

// TestGGUFParserGoAgrees writes SambaY GGUF files and reads them with
// gpustack/gguf-parser-go, an independent GGUF implementation: the header,
// every metadata pair and every tensor info must agree with ours.
func TestGGUFParserGoAgrees(t *testing.T) {
	for _, c := range []struct{ model, policy string }{{"phi4flash-tiny", "q4_k_m"}, {"sambay-tiny", "q8_0"}, {"sambay-tiny", "bf16"}} {
		t.Run(c.model+"/"+c.policy, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m.gguf")
			if _, err := convert.ExportGGUF(context.Background(), filepath.Join("..", "testdata", c.model, "hf"), convert.GGUFOptions{Output: out, Policy: c.policy, Name: c.model}); err != nil {
				t.Fatal(err)
			}
			ours, err := gguf.Open(out)
			if err != nil {
				t.Fatal(err)
			}
			defer ours.Close()
			theirs, err := parser.ParseGGUFFile(out)
			if err != nil {
				t.Fatalf("gguf-parser-go: %v", err)
			}
			h := theirs.Header
			if string(fmt.Sprint(h.Version)) == "" || h.TensorCount != uint64(len(ours.Tensors)) || h.MetadataKVCount != uint64(len(ours.KV)) {
				t.Fatalf("header: %d tensors %d kvs, ours %d %d", h.TensorCount, h.MetadataKVCount, len(ours.Tensors), len(ours.KV))
			}
			for i, kv := range ours.KV {
				o := h.MetadataKV[i]
				if o.Key != kv.Key {
					t.Fatalf("kv %d: key %q, ours %q", i, o.Key, kv.Key)
				}
				vt, _ := gguf.TypeOf(kv.Value)
				if uint32(o.ValueType) != uint32(vt) {
					t.Errorf("%s: type %d, ours %d", kv.Key, o.ValueType, vt)
				}
				if a, ok := kv.Value.(gguf.Array); ok {
					arr := o.ValueArray()
					if arr.Len != uint64(len(a.Values)) || uint32(arr.Type) != uint32(a.Type) {
						t.Errorf("%s: array %d × %d, ours %d × %d", kv.Key, arr.Len, arr.Type, len(a.Values), a.Type)
					}
					for j, v := range a.Values {
						if fmt.Sprint(arr.Array[j]) != fmt.Sprint(v) {
							t.Errorf("%s[%d] = %v, ours %v", kv.Key, j, arr.Array[j], v)
							break
						}
					}
				} else if fmt.Sprint(o.Value) != fmt.Sprint(kv.Value) {
					t.Errorf("%s = %v, ours %v", kv.Key, o.Value, kv.Value)
				}
			}
			for i, ti := range ours.Tensors {
				o := theirs.TensorInfos[i]
				if o.Name != ti.Name || uint32(o.Type) != ti.Type || o.Offset != ti.Offset || fmt.Sprint(o.Dimensions) != fmt.Sprint(ti.Dims) {
					t.Errorf("tensor %d: %s %v type %d offset %d; ours %s %v %d %d", i, o.Name, o.Dimensions, o.Type, o.Offset, ti.Name, ti.Dims, ti.Type, ti.Offset)
				}
			}
			if theirs.TensorDataStartOffset != ours.DataOffset {
				t.Errorf("tensor data starts at %d, ours %d", theirs.TensorDataStartOffset, ours.DataOffset)
			}
			if int64(theirs.Size) != fileSize(t, out) {
				t.Errorf("size %d, file %d", theirs.Size, fileSize(t, out))
			}
			if arch := theirs.Architecture(); arch.Architecture != "sambay" {
				t.Errorf("architecture %q", arch.Architecture)
			}
		})
	}
}

func fileSize(t *testing.T, p string) int64 {
	fi, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}
