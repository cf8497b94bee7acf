package ggml

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// upstream reads testdata/ggml-types.h (ggml's enum and block-size
// static_asserts, unmodified) and returns every type's id, block size and
// bytes per block as ggml defines them.
func upstream(t *testing.T) map[string]Traits {
	f, err := os.Open("testdata/ggml-types.h")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	enum := regexp.MustCompile(`^\s*GGML_TYPE_(\w+)\s*=\s*(\d+),`)
	define := regexp.MustCompile(`^#define (\w+) (.+?)\s*(//.*)?$`)
	assert := regexp.MustCompile(`^static_assert\(sizeof\(block_(\w+)\) == (.+), "`)
	ids := map[string]int{}
	macros := map[string]string{"sizeof(ggml_half)": "2", "sizeof(uint8_t)": "1", "sizeof(uint16_t)": "2",
		"sizeof(int16_t)": "2", "sizeof(uint32_t)": "4", "sizeof(float)": "4"}
	out := map[string]Traits{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := enum.FindStringSubmatch(line); m != nil && m[1] != "COUNT" {
			ids[m[1]], _ = strconv.Atoi(m[2])
		} else if m := define.FindStringSubmatch(line); m != nil {
			macros[m[1]] = "(" + m[2] + ")"
		} else if m := assert.FindStringSubmatch(line); m != nil {
			bytes, err := evalC(m[2], macros)
			if err != nil {
				t.Fatalf("block_%s: %v", m[1], err)
			}
			qk := regexp.MustCompile(`QK\w*`).FindString(m[2]) // the block's own QK macro comes first
			bs, err := evalC(qk, macros)
			if err != nil {
				t.Fatalf("block_%s: block size %s: %v", m[1], qk, err)
			}
			out[strings.ToUpper(m[1])] = Traits{BlockSize: bs, BlockBytes: bytes}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	plain := map[string]int{"F32": 4, "F16": 2, "BF16": 2, "F64": 8, "I8": 1, "I16": 2, "I32": 4, "I64": 8}
	res := map[string]Traits{}
	for name, id := range ids {
		tr, ok := out[name]
		if n, isPlain := plain[name]; isPlain {
			tr, ok = Traits{BlockSize: 1, BlockBytes: n}, true
		}
		if !ok {
			t.Fatalf("GGML_TYPE_%s has no block size in testdata", name)
		}
		tr.Name = strconv.Itoa(id) // id carried in Name for the comparison below
		res[name] = tr
	}
	return res
}

// evalC evaluates an integer C expression of + - * / and parentheses after
// expanding macros (repeatedly, longest names first).
func evalC(expr string, macros map[string]string) (int, error) {
	for i := 0; i < 8; i++ {
		prev := expr
		for _, k := range sortedKeys(macros) {
			expr = strings.ReplaceAll(expr, k, macros[k])
		}
		if expr == prev {
			break
		}
	}
	p := &cparser{s: strings.ReplaceAll(expr, " ", "")}
	v := p.sum()
	if p.err == nil && p.i != len(p.s) {
		p.err = fmt.Errorf("trailing %q", p.s[p.i:])
	}
	return v, p.err
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	// longest first, so QK_K does not eat QK_K_something
	for i := range ks {
		for j := i + 1; j < len(ks); j++ {
			if len(ks[j]) > len(ks[i]) || (len(ks[j]) == len(ks[i]) && ks[j] < ks[i]) {
				ks[i], ks[j] = ks[j], ks[i]
			}
		}
	}
	return ks
}

type cparser struct {
	s   string
	i   int
	err error
}

func (p *cparser) sum() int {
	v := p.product()
	for p.i < len(p.s) && (p.s[p.i] == '+' || p.s[p.i] == '-') {
		op := p.s[p.i]
		p.i++
		w := p.product()
		if op == '+' {
			v += w
		} else {
			v -= w
		}
	}
	return v
}

func (p *cparser) product() int {
	v := p.atom()
	for p.i < len(p.s) && (p.s[p.i] == '*' || p.s[p.i] == '/') {
		op := p.s[p.i]
		p.i++
		w := p.atom()
		if op == '*' {
			v *= w
		} else if w != 0 {
			v /= w
		} else {
			p.err = fmt.Errorf("division by zero in %q", p.s)
		}
	}
	return v
}

func (p *cparser) atom() int {
	if p.i < len(p.s) && p.s[p.i] == '(' {
		p.i++
		v := p.sum()
		if p.i >= len(p.s) || p.s[p.i] != ')' {
			p.err = fmt.Errorf("unbalanced parentheses in %q", p.s)
			return 0
		}
		p.i++
		return v
	}
	j := p.i
	for j < len(p.s) && p.s[j] >= '0' && p.s[j] <= '9' {
		j++
	}
	v, err := strconv.Atoi(p.s[p.i:j])
	if err != nil && p.err == nil {
		p.err = fmt.Errorf("not a number at %q", p.s[p.i:])
	}
	p.i = j
	return v
}

// TestTableMatchesGGML checks every id, name, block size and block byte size
// of the table against ggml's own header text, and that the table has no
// type ggml lacks.
func TestTableMatchesGGML(t *testing.T) {
	want := upstream(t)
	if len(want) < 35 {
		t.Fatalf("parsed only %d types from testdata", len(want))
	}
	for name, w := range want {
		id, _ := strconv.Atoi(w.Name)
		got, ok := Type(id).Traits()
		if !ok {
			t.Errorf("GGML_TYPE_%s = %d missing from the table", name, id)
			continue
		}
		if got.Name != name || got.BlockSize != w.BlockSize || got.BlockBytes != w.BlockBytes {
			t.Errorf("type %d: table %s %d elements/%d bytes, ggml %s %d/%d", id, got.Name, got.BlockSize, got.BlockBytes, name, w.BlockSize, w.BlockBytes)
		}
	}
	for id := Type(0); id < TypeCount; id++ {
		if tr, ok := id.Traits(); ok {
			if _, ok := want[tr.Name]; !ok {
				t.Errorf("table type %d %s is not in ggml's enum", id, tr.Name)
			}
		}
	}
}

func TestTypeMethods(t *testing.T) {
	if s := TypeIQ2_XXS.String(); s != "IQ2_XXS" {
		t.Errorf("IQ2_XXS prints as %q", s)
	}
	if s := Type(4).String(); s != "Type(4)" {
		t.Errorf("removed id 4 prints as %q", s)
	}
	if Type(4).Known() || Type(99).Known() || !TypeQ4_K.Known() {
		t.Error("Known wrong for removed, out-of-range or defined ids")
	}
	if TypeF16.IsQuantized() || !TypeQ8_0.IsQuantized() || Type(99).IsQuantized() {
		t.Error("IsQuantized wrong")
	}
	if got := TypeQ4_K.BitsPerWeight(); got != 4.5 {
		t.Errorf("Q4_K bits per weight %v, want 4.5", got)
	}
	if got := TypeQ6_K.RowBytes(512); got != 420 {
		t.Errorf("Q6_K row of 512: %d bytes, want 420", got)
	}
	for _, s := range []string{"q4_k", "Q4_K", "bf16", "iq4_nl"} {
		if _, err := ParseType(s); err != nil {
			t.Errorf("ParseType(%q): %v", s, err)
		}
	}
	for _, s := range []string{"", "q4_2", "Type(4)", "q4_k_m"} {
		if _, err := ParseType(s); err == nil {
			t.Errorf("ParseType(%q) accepted", s)
		}
	}
}
