package ggufmodel

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/formats/safetensors"
	"github.com/sambay-conv/sambay-conv/ggml"
	"github.com/sambay-conv/sambay-conv/internal/testmodel"

	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/reference"
	"github.com/sambay-conv/sambay-conv/tokenizer"
)

const td = "../testdata"

func releaseConfig(t *testing.T) reference.Config {
	cb, err := os.ReadFile(filepath.Join(td, "phi4flash-release", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := convert.ParseHFConfig(cb)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReleaseGGUFMixes checks the per-tensor types of the real release's
// tensor set under each policy against docs/QUANT.md §Mixes.
func TestReleaseGGUFMixes(t *testing.T) {
	c := releaseConfig(t)
	for _, want := range []struct {
		policy string
		counts map[string]int
		bytes  int64
	}{
		{"q4_k_m", map[string]int{"Q4_K": 116, "Q6_K": 22, "Q5_0": 9, "F32": 287}, 2_430_230_016},
		{"q5_k_m", map[string]int{"Q5_K": 116, "Q6_K": 22, "Q5_1": 9, "F32": 287}, 2_786_510_336},
		{"q6_k", map[string]int{"Q6_K": 138, "Q8_0": 9, "F32": 287}, 3_166_872_576},
		{"q8_0", map[string]int{"Q8_0": 147, "F32": 287}, 4_097_765_376},
	} {
		res, err := Plan(&c, Options{Policy: want.policy})
		if err != nil {
			t.Fatal(err)
		}
		for k, n := range want.counts {
			if res.TypeCounts[k] != n {
				t.Errorf("%s: %d %s tensors, want %d (all: %v)", want.policy, res.TypeCounts[k], k, n, res.TypeCounts)
			}
		}
		if res.TensorBytes != want.bytes {
			t.Errorf("%s: %d tensor bytes, want %d", want.policy, res.TensorBytes, want.bytes)
		}
		if len(res.Tensors) != 434 {
			t.Errorf("%d GGUF tensors", len(res.Tensors))
		}
	}
	// Q4_K_M: attn_qkv of layers 1, 7, 13, 15, 17 and ffn_down of 16 layers take Q6_K.
	res, _ := Plan(&c, Options{Policy: "q4_k_m"})
	q6 := map[string]bool{}
	for _, tn := range res.Tensors {
		if tn.Type == "Q6_K" {
			q6[tn.Name] = true
		}
	}
	for _, n := range []string{"blk.1.attn_qkv.weight", "blk.7.attn_qkv.weight", "blk.13.attn_qkv.weight", "blk.15.attn_qkv.weight",
		"blk.17.attn_qkv.weight", "blk.0.ffn_down.weight", "blk.6.ffn_down.weight", "blk.27.ffn_down.weight", "token_embd.weight"} {
		if !q6[n] {
			t.Errorf("%s is not Q6_K under Q4_K_M", n)
		}
	}
	if q6["blk.3.attn_qkv.weight"] || q6["blk.4.ffn_down.weight"] {
		t.Error("use_more_bits selected too many layers")
	}
}

// TestWorkedExampleGGUF checks the docs/QUANT.md §Mixes (worked example) worked example (the
// docs/MODEL.md §9 config): names, dims and types of its first 49 tensors.
func TestWorkedExampleGGUF(t *testing.T) {
	c := reference.Config{NLayer: 8, NEmbd: 64, NHead: 4, NKVHead: 2, HeadDim: 16, Intermediate: 256, VocabSize: 256,
		Window: 16, DState: 16, DConv: 4, Expand: 2, DtRank: 4, Norm: reference.LayerNorm, NormEps: 1e-5, DiffAttn: true,
		QKVBias: true, AttnOutBias: true, Tied: true, GMU: true, LogitScale: 1, AttnScale: 0.25}
	q4, err := Plan(&c, Options{Policy: "q4_k_m"})
	if err != nil {
		t.Fatal(err)
	}
	q8, _ := Plan(&c, Options{Policy: "q8_0"})
	rows := []struct{ name, dims, q4, q8 string }{
		{"token_embd.weight", "[64 256]", "Q8_0", "Q8_0"},
		{"blk.0.attn_norm.weight", "[64]", "F32", "F32"},
		{"blk.0.attn_norm.bias", "[64]", "F32", "F32"},
		{"blk.0.ssm_in.weight", "[64 256]", "Q5_0", "Q8_0"},
		{"blk.0.ssm_conv1d.weight", "[4 128]", "F32", "F32"},
		{"blk.0.ssm_conv1d.bias", "[128]", "F32", "F32"},
		{"blk.0.ssm_x.weight", "[128 36]", "Q5_0", "Q8_0"},
		{"blk.0.ssm_dt.weight", "[4 128]", "F16", "F16"},
		{"blk.0.ssm_dt.bias", "[128]", "F32", "F32"},
		{"blk.0.ssm_a", "[16 128]", "F32", "F32"},
		{"blk.0.ssm_d", "[128]", "F32", "F32"},
		{"blk.0.ssm_out.weight", "[128 64]", "Q5_0", "Q8_0"},
		{"blk.0.ffn_norm.weight", "[64]", "F32", "F32"},
		{"blk.0.ffn_norm.bias", "[64]", "F32", "F32"},
		{"blk.0.ffn_up.weight", "[64 512]", "Q5_0", "Q8_0"},
		{"blk.0.ffn_down.weight", "[256 64]", "Q6_K", "Q8_0"},
		{"blk.1.attn_norm.weight", "[64]", "F32", "F32"},
		{"blk.1.attn_norm.bias", "[64]", "F32", "F32"},
		{"blk.1.attn_qkv.weight", "[64 128]", "Q5_0", "Q8_0"},
		{"blk.1.attn_qkv.bias", "[128]", "F32", "F32"},
		{"blk.1.attn_lambda_q1", "[16]", "F32", "F32"},
		{"blk.1.attn_lambda_k1", "[16]", "F32", "F32"},
		{"blk.1.attn_lambda_q2", "[16]", "F32", "F32"},
		{"blk.1.attn_lambda_k2", "[16]", "F32", "F32"},
		{"blk.1.attn_sub_norm.weight", "[32]", "F32", "F32"},
		{"blk.1.attn_output.weight", "[64 64]", "Q5_0", "Q8_0"},
		{"blk.1.attn_output.bias", "[64]", "F32", "F32"},
		{"blk.1.ffn_norm.weight", "[64]", "F32", "F32"},
		{"blk.1.ffn_norm.bias", "[64]", "F32", "F32"},
		{"blk.1.ffn_up.weight", "[64 512]", "Q5_0", "Q8_0"},
		{"blk.1.ffn_down.weight", "[256 64]", "Q4_K", "Q8_0"},
	}
	for i, r := range rows {
		a, b := q4.Tensors[i], q8.Tensors[i]
		dims := "["
		for j, d := range a.Dims {
			if j > 0 {
				dims += " "
			}
			dims += itoa(d)
		}
		dims += "]"
		if a.Name != r.name || dims != r.dims || a.Type != r.q4 || b.Type != r.q8 {
			t.Errorf("row %d: %s %s %s/%s, want %s %s %s/%s", i+1, a.Name, dims, a.Type, b.Type, r.name, r.dims, r.q4, r.q8)
		}
	}
	for _, tn := range q4.Tensors {
		if tn.Name == "blk.5.attn_qkv.weight" && tn.Type != "Q8_0" {
			t.Errorf("blk.5.attn_qkv.weight is %s, want Q8_0 (Q6_K → fallback)", tn.Type)
		}
	}
}

func itoa(d uint64) string {
	s := ""
	if d == 0 {
		return "0"
	}
	for d > 0 {
		s = string(rune('0'+d%10)) + s
		d /= 10
	}
	return s
}

func TestExportGGUFReadsBack(t *testing.T) {
	out := filepath.Join(t.TempDir(), "m.gguf")
	res, err := Export(context.Background(), filepath.Join(td, "sambay-tiny", "hf"), Options{Output: out, Policy: "q8_0", Name: "sambay-tiny"})
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if len(f.Tensors) != len(res.Tensors) {
		t.Fatalf("%d tensors read back, %d written", len(f.Tensors), len(res.Tensors))
	}
	if v, _ := f.Get("general.architecture"); v != "sambay" {
		t.Errorf("architecture %v", v)
	}
	if v, _ := f.Get("sambay.attention.layer_norm_rms_epsilon"); v == nil {
		t.Error("RMSNorm model lacks layer_norm_rms_epsilon")
	}
	fi, _ := os.Stat(out)
	if fi.Size() != res.FileBytes {
		t.Errorf("file %d bytes, reported %d", fi.Size(), res.FileBytes)
	}
}

func TestGenericGGUF(t *testing.T) {
	// An arbitrary architecture: names the SambaY schema does not know.
	dir := t.TempDir()
	src := filepath.Join(dir, "any.safetensors")
	ts := []formats.Tensor{
		testmodel.F32Tensor("encoder.block.0.attention.weight", []int64{8, 64}, func(i int) float32 { return float32(i%17) * 0.01 }),
		testmodel.F32Tensor("encoder.block.0.norm.scale", []int64{64}, func(i int) float32 { return 1 }),
		testmodel.F32Tensor("head.proj", []int64{3, 40}, func(i int) float32 { return float32(i) * 0.001 }),
	}
	if _, _, err := safetensors.WriteFile(src, ts, safetensors.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "any.gguf")
	res, err := ExportGeneric(context.Background(), src, GenericOptions{Output: out, Type: ggml.TypeQ8_0})
	if err != nil {
		t.Fatal(err)
	}
	types := map[string]string{}
	for _, tn := range res.Tensors {
		types[tn.Name] = tn.Type
	}
	// 2-D tensors quantized whatever their names (40 columns: Q8_0 cannot → F16), 1-D kept.
	if types["encoder.block.0.attention.weight"] != "Q8_0" || types["head.proj"] != "F16" || types["encoder.block.0.norm.scale"] != "F32" {
		t.Errorf("types %v", types)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if v, _ := f.Get("general.architecture"); v != "generic" || len(f.Tensors) != 3 {
		t.Errorf("architecture %v, %d tensors", v, len(f.Tensors))
	}

	// NoStats writes the same bytes and leaves the NMSE out (0); with
	// stats, the quantized tensor's NMSE is positive and the kept one's 0.
	nmse := map[string]float64{}
	for _, tn := range res.Tensors {
		nmse[tn.Name] = tn.NMSE
	}
	if q, k := nmse["encoder.block.0.attention.weight"], nmse["encoder.block.0.norm.scale"]; !(q > 0 && q < 1e-3) || k != 0 {
		t.Errorf("NMSE %v", nmse)
	}
	out2 := filepath.Join(dir, "nostats.gguf")
	res2, err := ExportGeneric(context.Background(), src, GenericOptions{Output: out2, Type: ggml.TypeQ8_0, NoStats: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, tn := range res2.Tensors {
		if tn.NMSE != 0 {
			t.Errorf("NoStats: %s NMSE %v", tn.Name, tn.NMSE)
		}
	}
	a, _ := os.ReadFile(out)
	b, _ := os.ReadFile(out2)
	if !bytes.Equal(a, b) {
		t.Error("NoStats changed the file")
	}
}

// TestRowValidationRefuses: values beyond the f16 range make an F16 output
// (or a block scale) overflow; ggml would reject the row, so the export
// fails naming the tensor and row and leaves no file.
func TestRowValidationRefuses(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "big.safetensors")
	ts := []formats.Tensor{testmodel.F32Tensor("w", []int64{4, 64}, func(i int) float32 {
		if i == 2*64+5 {
			return 1e6
		}
		return 0.5
	})}
	if _, _, err := safetensors.WriteFile(src, ts, safetensors.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []ggml.Type{ggml.TypeF16, ggml.TypeQ4_0} {
		out := filepath.Join(dir, "big.gguf")
		_, err := ExportGeneric(context.Background(), src, GenericOptions{Output: out, Type: typ})
		// F16: 1e6 rounds to +Inf. Q4_0: the block scale 1e6/−8 = −125000 overflows f16.
		if err == nil || !strings.Contains(err.Error(), "tensor w") || !strings.Contains(err.Error(), "row 2") {
			t.Errorf("%v: %v", typ, err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%v: file written", typ)
		}
	}
}

func TestGGUFTokenizerMetadata(t *testing.T) {
	// Import carries the tokenizer files; the GGUF export writes them as metadata.
	canon := filepath.Join(t.TempDir(), "canon")
	if _, err := convert.Import(context.Background(), filepath.Join(td, "phi4flash-tiny", "hf-sharded"), convert.ImportOptions{Output: canon}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "m.gguf")
	if _, err := Export(context.Background(), canon, Options{Output: out, Policy: "q8_0"}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	toks, _ := f.Get("tokenizer.ggml.tokens")
	types, _ := f.Get("tokenizer.ggml.token_type")
	tv, yv := toks.(gguf.Array).Values, types.(gguf.Array).Values
	if len(tv) != 128 || tv[0] != "a" || tv[120] != "<|endoftext|>" || tv[125] != "[PAD125]" {
		t.Errorf("tokens: %d, [0] %v [120] %v [125] %v", len(tv), tv[0], tv[120], tv[125])
	}
	if yv[0] != int32(1) || yv[120] != int32(3) || yv[123] != int32(4) || yv[125] != int32(5) {
		t.Errorf("token types [0] %v [120] %v [123] %v [125] %v", yv[0], yv[120], yv[123], yv[125])
	}
	for k, want := range map[string]any{"tokenizer.ggml.model": "gpt2", "tokenizer.ggml.pre": "gpt-4o", "tokenizer.ggml.bos_token_id": uint32(120),
		"tokenizer.ggml.eos_token_id": uint32(120), "tokenizer.ggml.eot_token_id": uint32(122), "tokenizer.ggml.add_bos_token": false} {
		if v, _ := f.Get(k); v != want {
			t.Errorf("%s = %v, want %v", k, v, want)
		}
	}
	if m, _ := f.Get("tokenizer.ggml.merges"); len(m.(gguf.Array).Values) != 7 || m.(gguf.Array).Values[0] != "t h" {
		t.Errorf("merges %v", m)
	}
	if ct, _ := f.Get("tokenizer.chat_template"); ct == nil {
		t.Error("no chat template")
	}
	// Provenance from the canonical folder's manifest.
	if v, _ := f.Get("sambay_conv.source_format"); v != "hf-safetensors" {
		t.Errorf("source format %v", v)
	}
	if v, _ := f.Get("general.size_label"); v != "100K" {
		t.Errorf("size label %v", v)
	}
	if v, _ := f.Get("sambay_conv.source_sha256"); !strings.Contains(v.(string), "model-00001-of-00002.safetensors:") {
		t.Errorf("source digests %v", v)
	}
}

// TestMetadataNamesAndDefaults: general.name and basename come from the
// model (the ArchScale model name an import records), a folder as -o gets
// llama.cpp's default file name, a pure file says its type in
// general.file_type, a model without tokenizer.json is warned about, and a
// special id outside the vocabulary is refused.
func TestMetadataNamesAndDefaults(t *testing.T) {
	canon := filepath.Join(t.TempDir(), "run", "canonical")
	src := filepath.Join(td, "sambay-tiny", "archscale-head.pth")
	if _, err := convert.Import(context.Background(), src, convert.ImportOptions{Output: canon,
		Config: convert.ConfigOptions{ConfigFile: filepath.Join(td, "sambay-tiny", "litgpt-config.json")}}); err != nil {
		t.Fatal(err)
	}
	outDir := t.TempDir()
	res, err := Export(context.Background(), canon, Options{Output: outDir, Pure: true, PureType: ggml.TypeQ4_K})
	if err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(res.Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	name, _ := f.Get(KeyName)
	base, _ := f.Get(KeyBasename)
	size, _ := f.Get(KeySizeLabel)
	if want := fmt.Sprintf("%s-%s-Q4_K.gguf", name, size); filepath.Base(res.Path) != want || filepath.Dir(res.Path) != outDir {
		t.Errorf("default output %s, want %s in %s", res.Path, want, outDir)
	}
	if name == "canonical" || name == "" || name != base {
		t.Errorf("general.name %v, basename %v", name, base)
	}
	if ft, _ := f.Get(KeyFileType); ft != uint32(15) {
		t.Errorf("pure Q4_K file_type %v, want 15 (MOSTLY_Q4_K_M)", ft)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "no tokenizer.json") {
		t.Errorf("warnings %v", res.Warnings)
	}
	if _, err := Export(context.Background(), canon, Options{Output: outDir, Pure: true, PureType: ggml.TypeQ4_K}); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Errorf("second export to the same default name: %v", err)
	}

	// A bos id beyond the vocabulary.
	bad := filepath.Join(t.TempDir(), "m")
	os.MkdirAll(bad, 0o755)
	hf := filepath.Join(td, "phi4flash-tiny", "hf")
	for _, n := range []string{"model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
		b, _ := os.ReadFile(filepath.Join(hf, n))
		os.WriteFile(filepath.Join(bad, n), b, 0o644)
	}
	cb, _ := os.ReadFile(filepath.Join(hf, "config.json"))
	os.WriteFile(filepath.Join(bad, "config.json"), []byte(strings.Replace(string(cb), `"bos_token_id": 120`, `"bos_token_id": 500`, 1)), 0o644)
	_, err = Export(context.Background(), bad, Options{Output: filepath.Join(t.TempDir(), "x.gguf"), Policy: "q8_0"})
	if err == nil || !strings.Contains(err.Error(), "bos_token_id = 500") {
		t.Errorf("bos outside the vocabulary: %v", err)
	}
}

// TestGenericScalarTensor: a 0-d tensor (a step counter, a scale) is
// written as one element of shape [1]; it used to panic and leave a
// temporary file.
func TestGenericScalarTensor(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "s.safetensors")
	ts := []formats.Tensor{testmodel.F32Tensor("scale", nil, func(int) float32 { return 2.5 }),
		testmodel.F32Tensor("w.weight", []int64{2, 32}, func(i int) float32 { return float32(i) / 64 })}
	if _, _, err := safetensors.WriteFile(src, ts, safetensors.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "s.gguf")
	if _, err := ExportGeneric(context.Background(), src, GenericOptions{Output: out, Type: ggml.TypeQ8_0}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ti, ok := f.Tensor("scale")
	if !ok || len(ti.Dims) != 1 || ti.Dims[0] != 1 || ti.Type != ggml.TypeF32 {
		t.Fatalf("scalar tensor: %+v", ti)
	}
	b, _ := f.Data(ti)
	if v := math.Float32frombits(binary.LittleEndian.Uint32(b)); v != 2.5 {
		t.Errorf("scalar value %v", v)
	}
}

// TestTokenizerPre: tokenizer.ggml.pre names the tokenizer.json's split
// pattern (o200k's "gpt-4o", GPT-2's "gpt2"); an unknown pattern is refused
// rather than written under a wrong name.
func TestTokenizerPre(t *testing.T) {
	ranks := map[string]int{}
	for b := 0; b < 256; b++ {
		ranks[string([]byte{byte(b)})] = b
	}
	for _, c := range []struct{ pattern, want string }{{tokenizer.PatternO200k, "gpt-4o"}, {tokenizer.PatternGPT2, "gpt2"}, {`\w+`, ""}} {
		dir := t.TempDir()
		base := tokenizer.PatternO200k
		if c.pattern == tokenizer.PatternGPT2 {
			base = c.pattern
		}
		js, err := tokenizer.TiktokenToHF(ranks, base, nil, false)
		if err != nil {
			t.Fatal(err)
		}
		if c.want == "" { // put another pattern in the Split
			var f map[string]any
			json.Unmarshal(js, &f)
			f["pre_tokenizer"].(map[string]any)["pretokenizers"].([]any)[0].(map[string]any)["pattern"] = map[string]string{"Regex": c.pattern}
			js, _ = json.Marshal(f)
		}
		os.WriteFile(filepath.Join(dir, "tokenizer.json"), js, 0o644)
		tk, err := readTokenizer(dir, 300)
		switch {
		case c.want == "" && (err == nil || !strings.Contains(err.Error(), "unknown pre-tokenizer pattern")):
			t.Errorf("pattern %q: %v, want an unknown-pattern error", c.pattern, err)
		case c.want != "" && (err != nil || tk.Pre != c.want):
			t.Errorf("pattern %q: pre %v, %v; want %q", c.pattern, tk, err, c.want)
		}
	}
}
