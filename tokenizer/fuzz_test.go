package tokenizer

import (
	"bytes"
	"testing"
)

// FuzzEncode: any text (valid UTF-8 or not) splits into pieces that cover
// it exactly, and decodes back from its ids, under both patterns.
func FuzzEncode(f *testing.F) {
	for _, s := range []string{"Hello, world!", "  \n\r\n\t x", "It's DON'T we'LL", "١٢٣ 一二三 👩‍💻", "\xff\xfe a\x80", "<|endoftext|>x", "a\u0085\u0085b"} {
		f.Add([]byte(s))
	}
	tks := []*Tokenizer{loadTiktoken(f, "gpt2"), loadTiktoken(f, "o200k_base")}
	f.Fuzz(func(t *testing.T, text []byte) {
		for _, sp := range []splitter{gpt2Piece, o200kPiece} {
			var joined []byte
			split(sp, text, func(p []byte) {
				if len(p) == 0 {
					t.Fatalf("empty piece of %q", text)
				}
				joined = append(joined, p...)
			})
			if !bytes.Equal(joined, text) {
				t.Fatalf("pieces of %q join to %q", text, joined)
			}
		}
		for _, tk := range tks {
			back, err := tk.Decode(tk.Encode(string(text)))
			if err != nil || !bytes.Equal(back, text) {
				t.Fatalf("decode(encode(%q)) = %q, %v", text, back, err)
			}
		}
	})
}

// FuzzParseHF: any tokenizer.json is read or refused, never a panic; one
// that is read encodes and decodes its seed text.
func FuzzParseHF(f *testing.F) {
	f.Add([]byte(`{"pre_tokenizer": {"type": "ByteLevel", "use_regex": true}, "model": {"type": "BPE", "vocab": {}, "merges": []}}`))
	f.Add([]byte(`{"added_tokens": [{"id": 300, "content": "<x>", "special": true}], "pre_tokenizer": {"type": "ByteLevel"}, "model": {"type": "BPE", "vocab": {"a": 1}, "merges": ["a a"]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		tk, err := ParseHF(b)
		if err != nil {
			return
		}
		text := "hello <x> world"
		if back, err := tk.Decode(tk.Encode(text)); err != nil || string(back) != text {
			t.Fatalf("decode(encode(%q)) = %q, %v", text, back, err)
		}
	})
}
