package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	parser "github.com/gpustack/gguf-parser-go"

	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/ggufmodel"
)

// TestGGUFParserGoAgrees writes SambaY GGUF files and reads them with
// gpustack/gguf-parser-go, an independent GGUF implementation: the header,
// every metadata pair and every tensor info must agree with ours.
func TestGGUFParserGoAgrees(t *testing.T) {
	for _, c := range []struct{ model, policy string }{{"phi4flash-tiny", "q4_k_m"}, {"sambay-tiny", "q8_0"}, {"sambay-tiny", "bf16"}} {
		t.Run(c.model+"/"+c.policy, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "m.gguf")
			if _, err := ggufmodel.Export(context.Background(), filepath.Join("..", "testdata", c.model, "hf"), ggufmodel.Options{Output: out, Policy: c.policy, Name: c.model}); err != nil {
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
			if uint32(h.Version) != ours.Version || ours.Version != gguf.Version || h.TensorCount != uint64(len(ours.Tensors)) || h.MetadataKVCount != uint64(len(ours.KV)) {
				t.Fatalf("header: version %d, %d tensors %d kvs; ours version %d, %d %d", h.Version, h.TensorCount, h.MetadataKVCount, ours.Version, len(ours.Tensors), len(ours.KV))
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
				if o.Name != ti.Name || uint32(o.Type) != uint32(ti.Type) || o.Offset != ti.Offset || fmt.Sprint(o.Dimensions) != fmt.Sprint(ti.Dims) {
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

// TestGGMLTableAgreesWithGGUFParser checks every type of our ggml table
// against gguf-parser-go's independent one (same block sizes and bytes per
// block), and that every type it knows is in ours unless ggml removed it.
func TestGGMLTableAgreesWithGGUFParser(t *testing.T) {
	checked := 0
	for id := uint32(0); id < uint32(ggml.TypeCount); id++ {
		ours, okOurs := ggml.Type(id).Traits()
		theirs, okTheirs := parser.GGMLType(id).Trait()
		okTheirs = okTheirs && theirs.BlockSize > 0
		switch {
		case okOurs && !okTheirs:
			t.Errorf("type %d %s: unknown to gguf-parser-go", id, ours.Name)
		case okOurs && (uint64(ours.BlockSize) != theirs.BlockSize || uint64(ours.BlockBytes) != theirs.TypeSize):
			t.Errorf("type %d %s: ours %d elements/%d bytes, gguf-parser-go %d/%d", id, ours.Name, ours.BlockSize, ours.BlockBytes, theirs.BlockSize, theirs.TypeSize)
		case okOurs:
			checked++
		case okTheirs && id != 31 && id != 32 && id != 33 && id != 36 && id != 37 && id != 38:
			// 31–33 and 36–38 are repacked layouts ggml removed from GGUF files (ggml.h).
			t.Errorf("type %d (%v): gguf-parser-go knows it, our table does not", id, parser.GGMLType(id))
		}
	}
	if checked < 35 {
		t.Errorf("only %d types compared", checked)
	}
}
