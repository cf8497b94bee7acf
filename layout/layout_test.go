package layout

import (
	"strings"
	"testing"
)

// TestKindsWellFormed checks the table's invariants: unique ids; per-layer
// names carry the layer index in every layout and global ones none; no two
// kinds of a layer share a canonical, ArchScale or GGUF name; GGUF names fit
// ggml's 63-byte limit even at layer 999.
func TestKindsWellFormed(t *testing.T) {
	seen := map[string]bool{}
	for i, k := range Kinds {
		if seen[k.ID] {
			t.Errorf("duplicate id %s", k.ID)
		}
		seen[k.ID] = true
		if k.Canonical == "" || k.ArchScale == "" || k.GGUF == "" || len(k.Shape) == 0 {
			t.Errorf("%s: a name or the shape is missing", k.ID)
		}
		for _, p := range []string{k.Canonical, k.ArchScale, k.GGUF, k.Fused} {
			if p == "" {
				continue
			}
			if has := strings.Count(p, "%d"); (k.Global() && has != 0) || (!k.Global() && has != 1) {
				t.Errorf("%s: name %q has %d layer placeholders (global %v)", k.ID, p, has, k.Global())
			}
		}
		if n := len(Name(k.GGUF, 999)); n > 63 {
			t.Errorf("%s: GGUF name of %d bytes at layer 999", k.ID, n)
		}
		for _, o := range Kinds[i+1:] {
			if k.Mixers&o.Mixers == 0 && !(k.Global() && o.Global()) {
				continue
			}
			if k.Canonical == o.Canonical || k.ArchScale == o.ArchScale || k.GGUF == o.GGUF {
				t.Errorf("%s and %s share a name within one layer kind", k.ID, o.ID)
			}
		}
	}
}

// TestOrder checks what Config.Tensors relies on: the embedding first, the
// per-layer kinds next (input norm, mixer, post norm, MLP), the global tail last.
func TestOrder(t *testing.T) {
	if Kinds[0].ID != "embed" || Kinds[len(Kinds)-1].ID != "head" {
		t.Fatalf("table starts with %s and ends with %s", Kinds[0].ID, Kinds[len(Kinds)-1].ID)
	}
	stage := 0 // 0 head, 1 layers, 2 tail
	for _, k := range Kinds {
		switch {
		case k.Global() && k.Tail():
			stage = 2
		case !k.Global():
			if stage == 2 {
				t.Errorf("per-layer kind %s after the global tail", k.ID)
			}
			stage = 1
		default:
			if stage != 0 {
				t.Errorf("global kind %s among the layer kinds", k.ID)
			}
		}
	}
}

func TestTransformsWhereExpected(t *testing.T) {
	for _, k := range Kinds {
		if (k.InGGUF == NegExp) != (k.ID == "mamba.A_log") {
			t.Errorf("%s: GGUF transform %d", k.ID, k.InGGUF)
		}
		if (k.InGGUF == Squeeze) != (k.InMLX == MLXConv) || (k.InGGUF == Squeeze) != (k.ID == "mamba.conv1d.weight") {
			t.Errorf("%s: conv transforms %d/%d", k.ID, k.InGGUF, k.InMLX)
		}
		if k.MLX && len(k.Shape) != 2 {
			t.Errorf("%s: MLX module weight of %d dims", k.ID, len(k.Shape))
		}
		if k.KeepF32 != (k.ID == "mamba.A_log" || strings.HasPrefix(k.ID, "attn.lambda_")) {
			t.Errorf("%s: KeepF32 %v", k.ID, k.KeepF32)
		}
	}
}

func TestNameHelpers(t *testing.T) {
	if got := Name(Get("mamba.A_log").GGUF, 12); got != "blk.12.ssm_a" {
		t.Errorf("A_log GGUF name at 12: %q", got)
	}
	if got := Name(Get("embed").Canonical, 3); got != "model.embed_tokens.weight" {
		t.Errorf("global name with a layer: %q", got)
	}
	if got := Suffix(Get("self.qkv.weight").Fused); got != ".attn.attn.weight" {
		t.Errorf("Suffix: %q", got)
	}
	for name, want := range map[string]int{"model.layers.17.mlp.fc1.weight": 17, "transformer.h.3.attn.D": 3,
		"lm_head.weight": -1, "model.layers.x.attn": -1, "blk.2.ssm_a": -1} {
		if got := LayerIndex(name); got != want {
			t.Errorf("LayerIndex(%q) = %d, want %d", name, got, want)
		}
	}
	defer func() {
		if recover() == nil {
			t.Error("Get of an unknown id did not panic")
		}
	}()
	Get("no.such.kind")
}
