package torchpth

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/internal/pickletest"
)

// stateFile is an ArchScale-shaped state: {"model": {"w": tensor, "t": tensor
// (transposed view of w's storage)}, "hparams": {...}, "iter_num": 7}.
func stateFile(t testing.TB) []byte {
	p := pickletest.New()
	p.Op('}', '(')
	p.Str("model").Global("collections", "OrderedDict").Op(')', 'R', '(')
	p.Str("w").Tensor("FloatStorage", "0", 6, 0, []int{2, 3}, []int{3, 1}).Op('q', 1)
	p.Str("t").Op('h', 1).Op(0x30) // DUP-free: memo get then pop, to exercise memo ops
	p.Tensor("FloatStorage", "0", 6, 0, []int{3, 2}, []int{1, 3})
	p.Str("off").Tensor("FloatStorage", "0", 6, 4, []int{2}, []int{1})
	p.Op('u')
	p.Str("hparams").Op('}', '(').Str("mup").Op(0x88).Str("lr").Float(0.5).Str("model_name").Str("sambay_d8").Op('u')
	p.Str("iter_num").Int(7)
	p.Op('u')
	return torchZip(t, "archive", map[string][]byte{
		"data.pkl": p.Stop(), "byteorder": []byte("little"), "data/0": pickletest.F32(1, 2, 3, 4, 5, 6), "version": []byte("3\n"),
	}, []string{"data.pkl", "byteorder", "data/0", "version"})
}

func TestReadState(t *testing.T) {
	b := stateFile(t)
	f, err := NewFile(bytes.NewReader(b), int64(len(b)), "s.pth", Options{})
	if err != nil {
		t.Fatal(err)
	}
	if f.StateKey != "model" || f.IterNum == nil || *f.IterNum != 7 {
		t.Errorf("state key %q iter %v", f.StateKey, f.IterNum)
	}
	if f.Hparams["mup"] != true || f.Hparams["lr"] != 0.5 || f.Hparams["model_name"] != "sambay_d8" {
		t.Errorf("hparams %v", f.Hparams)
	}
	want := map[string][]float32{"w": {1, 2, 3, 4, 5, 6}, "t": {1, 4, 2, 5, 3, 6}, "off": {5, 6}}
	for name, w := range want {
		tn, ok := f.Tensor(name)
		if !ok {
			t.Fatalf("%s missing", name)
		}
		got, err := tn.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for i := range w {
			if got[i] != w[i] {
				t.Fatalf("%s = %v, want %v", name, got, w)
			}
		}
	}
	if f.SameView("w", "t") || !f.SameView("w", "w") {
		t.Errorf("SameView wrong")
	}
}

func TestReadFixtures(t *testing.T) {
	for _, c := range []struct {
		path    string
		state   string
		tensors int
	}{
		{"../../testdata/phi4flash-tiny/archscale-head.pth", "model", 126},
		{"../../testdata/phi4flash-tiny/archscale-fused.pth", "model", 117},
		{"../../testdata/sambay-tiny/pytorch_model.bin", "", 0},
	} {
		f, err := Open(c.path, Options{})
		if err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if f.StateKey != c.state || (c.tensors > 0 && len(f.Tensors) != c.tensors) {
			t.Errorf("%s: state %q, %d tensors", c.path, f.StateKey, len(f.Tensors))
		}
		for _, tn := range f.Tensors {
			if strings.HasPrefix(tn.Name, "module.") {
				t.Errorf("%s: %s keeps its module. prefix", c.path, tn.Name)
			}
			if _, err := tn.Float32s(); err != nil {
				t.Errorf("%s: %v", tn.Name, err)
			}
		}
		if c.state == "model" {
			if f.Hparams["base_hps.d0"] != int64(8) || f.Hparams["lr"] != 4e-4 || f.Hparams["micro_batch_size"] != int64(8) {
				t.Errorf("%s: hparams (numpy scalars decoded?) %v", c.path, f.Hparams)
			}
			if !f.SameView("lm_head.weight", "transformer.wte.weight") {
				t.Errorf("%s: tied head and embedding are not one storage view", c.path)
			}
		}
		f.Close()
	}
}

// countingReaderAt counts the bytes read through it.
type countingReaderAt struct {
	r interface {
		ReadAt([]byte, int64) (int, error)
	}
	n int64
}

func (c *countingReaderAt) ReadAt(p []byte, off int64) (int, error) {
	n, err := c.r.ReadAt(p, off)
	c.n += int64(n)
	return n, err
}

func TestOptimizerStateIsNeverRead(t *testing.T) {
	b, err := os.ReadFile("../../testdata/sambay-tiny/archscale-head.pth")
	if err != nil {
		t.Fatal(err)
	}
	cr := &countingReaderAt{r: bytes.NewReader(b)}
	f, err := NewFile(cr, int64(len(b)), "x.pth", Options{})
	if err != nil {
		t.Fatal(err)
	}
	var model int64
	for _, tn := range f.Tensors {
		if _, err := tn.Bytes(); err != nil {
			t.Fatal(err)
		}
		model += tn.Size()
	}
	// lm_head is a separate storage here (untied), so every storage counts once.
	if float64(cr.n) > 1.05*float64(model)+64<<10 {
		t.Errorf("read %d bytes for %d model bytes in a %d-byte file", cr.n, model, len(b))
	}
	t.Logf("read %d bytes (model %d, file %d)", cr.n, model, len(b))
}

func TestReaderErrors(t *testing.T) {
	simple := func(pkl []byte, records ...string) []byte {
		recs := map[string][]byte{"data.pkl": pkl, "data/0": pickletest.F32(1, 2, 3, 4)}
		order := []string{"data.pkl"}
		order = append(order, records...)
		return torchZip(t, "archive", recs, order)
	}
	okPkl := func() []byte {
		return pickletest.New().Op('}').Str("w").Tensor("FloatStorage", "0", 4, 0, []int{4}, []int{1}).Op('s').Stop()
	}
	legacy := append([]byte{0x80, 0x02}, legacyMagic...)
	tarball := make([]byte, 600)
	copy(tarball[257:], "ustar")
	for _, c := range []struct {
		name   string
		in     []byte
		kind   error
		tensor string
		msg    string
	}{
		{"not_a_zip", []byte("hello world, not a zip"), ErrNotTorchZip, "", "zip local header"},
		{"truncated_zip", simple(okPkl(), "data/0")[:60], ErrCorrupt, "", "zip"},
		{"legacy_format", legacy, ErrUnsupportedFormat, "", "re-save with torch.save"},
		{"tar_format", tarball, ErrUnsupportedFormat, "", "legacy"},
		{"forbidden_global", simple(pickletest.New().Global("os", "system").Str("rm -rf /").Op(0x85, 'R').Stop()), ErrForbiddenGlobal, "", `forbidden global "os.system" at`},
		{"forbidden_builtins_eval", simple(pickletest.New().Global("builtins", "eval").Stop()), ErrForbiddenGlobal, "", `"builtins.eval"`},
		{"forbidden_stack_global", simple(pickletest.New().Str("os").Str("system").Op(0x93).Op('.').Bytes()), ErrForbiddenGlobal, "", `"os.system"`},
		{"text_opcode", simple(append(pickletest.New().Bytes(), []byte("I1\n.")...)), ErrPickle, "", "INT"},
		{"unknown_opcode", simple(pickletest.New().Op(0xff).Stop()), ErrPickle, "", "unknown opcode 0xff"},
		{"operand_past_end", simple(append(pickletest.New().Bytes(), 'X', 0xff, 0xff, 0xff, 0x7f)), ErrPickle, "", "runs past the end"},
		{"no_stop", simple(pickletest.New().Str("x").Bytes()), ErrPickle, "", "without STOP"},
		{"trailing_garbage", simple(append(okPkl(), 'N')), ErrPickle, "", "trailing data after STOP"},
		{"memo_never_written", simple(pickletest.New().Op('h', 9).Stop()), ErrPickle, "", "never written"},
		{"stack_underflow", simple(pickletest.New().Op('R').Stop()), ErrPickle, "", ""},
		{"odd_setitems", simple(pickletest.New().Op('}', '(').Str("a").Op('u').Stop()), ErrPickle, "", ""},
		{"missing_storage", simple(okPkl()), ErrCorrupt, "w", "data/0 is missing"},
		{"view_outside_storage", simple(pickletest.New().Op('}').Str("w").Tensor("FloatStorage", "0", 4, 2, []int{4}, []int{1}).Op('s').Stop(), "data/0"), ErrCorrupt, "w", "reaches element 5"},
		{"negative_stride", simple(pickletest.New().Op('}').Str("w").Tensor("FloatStorage", "0", 4, 0, []int{2}, []int{-1}).Op('s').Stop(), "data/0"), ErrCorrupt, "w", "negative stride"},
		{"broadcast_view", simple(pickletest.New().Op('}').Str("w").Tensor("FloatStorage", "0", 4, 0, []int{1 << 30, 4}, []int{0, 1}).Op('s').Stop(), "data/0"), ErrCorrupt, "w", "broadcast or overlapping"},
		{"overlapping_view", simple(pickletest.New().Op('}').Str("w").Tensor("FloatStorage", "0", 4, 0, []int{3, 2}, []int{1, 1}).Op('s').Stop(), "data/0"), ErrCorrupt, "w", "broadcast or overlapping"},
		{"storage_size_mismatch", simple(pickletest.New().Op('}').Str("w").Tensor("FloatStorage", "0", 8, 0, []int{4}, []int{1}).Op('s').Stop(), "data/0"), ErrCorrupt, "w", "holds 16 bytes, the storage needs 32"},
		{"not_a_dict", simple(pickletest.New().Int(3).Stop()), ErrNoStateDict, "", "not a dict"},
		{"not_a_state_dict", simple(pickletest.New().Op('}').Str("a").Int(1).Op('s').Stop()), ErrNoStateDict, "", "no \"model\""},
		{"quantized_storage", simple(pickletest.New().Op('}').Str("w").Tensor("QInt8Storage", "0", 16, 0, []int{4}, []int{1}).Op('s').Stop(), "data/0"), ErrUnsupportedDtype, "w", "QInt8Storage"},
		{"no_data_pkl", torchZip(t, "archive", map[string][]byte{"data/0": {1}}, []string{"data/0"}), ErrCorrupt, "", "no archive/data.pkl"},
		{"big_endian", torchZip(t, "archive", map[string][]byte{"data.pkl": okPkl(), "byteorder": []byte("big")}, []string{"data.pkl", "byteorder"}), ErrUnsupportedFeature, "", "big-endian"},
		{"torchscript", torchZip(t, "archive", map[string][]byte{"data.pkl": okPkl(), "constants.pkl": {}}, []string{"data.pkl", "constants.pkl"}), ErrUnsupportedFormat, "", "TorchScript"},
		{"mixed_prefix", func() []byte {
			b := torchZip(t, "archive", map[string][]byte{"data.pkl": okPkl(), "data/0": pickletest.F32(1, 2, 3, 4)}, []string{"data.pkl", "data/0"})
			return bytes.Replace(b, []byte("archive/data/0"), []byte("other00/data/0"), -1)
		}(), ErrCorrupt, "", "does not share the prefix"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := NewFile(bytes.NewReader(c.in), int64(len(c.in)), "bad.pth", Options{})
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, c.kind) {
				t.Errorf("error %v is not %v", err, c.kind)
			}
			var fe *formats.FormatError
			if !errors.As(err, &fe) || fe.File != "bad.pth" || fe.Tensor != c.tensor {
				t.Errorf("error %#v does not name bad.pth / tensor %q", err, c.tensor)
			}
			if !strings.Contains(err.Error(), c.msg) {
				t.Errorf("error %q does not say %q", err, c.msg)
			}
		})
	}
}

func TestAllowUnknownGlobals(t *testing.T) {
	// Unknown globals in the optimizer state become placeholders; in the model they stay errors.
	pkl := pickletest.New().Op('}', '(').
		Str("model").Op('}').Str("w").Tensor("FloatStorage", "0", 4, 0, []int{4}, []int{1}).Op('s').
		Str("optimizer").Global("fancy.optim", "State").Op(')', 'R').
		Op('u').Stop()
	b := torchZip(t, "archive", map[string][]byte{"data.pkl": pkl, "data/0": pickletest.F32(1, 2, 3, 4)}, []string{"data.pkl", "data/0"})
	if _, err := NewFile(bytes.NewReader(b), int64(len(b)), "o.pth", Options{}); !errors.Is(err, ErrForbiddenGlobal) {
		t.Fatalf("strict load: %v", err)
	}
	if _, err := NewFile(bytes.NewReader(b), int64(len(b)), "o.pth", Options{AllowUnknownGlobals: true}); err != nil {
		t.Fatalf("lenient load: %v", err)
	}
	pkl = pickletest.New().Op('}', '(').Str("model").Op('}').Str("w").Global("fancy", "Tensor").Op(')', 'R').Op('s').Op('u').Stop()
	b = torchZip(t, "archive", map[string][]byte{"data.pkl": pkl}, []string{"data.pkl"})
	_, err := NewFile(bytes.NewReader(b), int64(len(b)), "o.pth", Options{AllowUnknownGlobals: true})
	if !errors.Is(err, ErrForbiddenGlobal) || !strings.Contains(err.Error(), "fancy.Tensor") {
		t.Fatalf("placeholder in the model: %v", err)
	}
}
