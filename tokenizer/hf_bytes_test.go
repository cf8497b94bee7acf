package tokenizer

import (
	"bytes"
	"strings"
	"testing"
)

// TestByteLevel: GPT-2's byte-level spelling of all 256 bytes reads back
// to them; runes that stand for no byte (a plain space, U+0144 past the
// last, CJK) are refused by name.
func TestByteLevel(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	s := toByteLevel(all)
	if got, err := fromByteLevel(s); err != nil || !bytes.Equal(got, all) {
		t.Fatalf("round trip: %v, % x", err, got)
	}
	if toByteLevel([]byte(" a\n")) != "Ġa\u010a" {
		t.Errorf("space and newline spelled %q", toByteLevel([]byte(" a\n")))
	}
	for _, bad := range []string{"a b", "\u0144", "中"} {
		if _, err := fromByteLevel(bad); err == nil || !strings.Contains(err.Error(), "not a byte-level token") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
