package torchpth

import (
	"archive/zip"
	"bytes"
	"io"
	"math"
	"os"
	"testing"

	"github.com/sambay-conv/sambay-conv/internal/pickletest"
)

func fixturePickles(f *testing.F) {
	for _, p := range []string{"../../testdata/phi4flash-tiny/archscale-head.pth", "../../testdata/sambay-tiny/pytorch_model.bin"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
		if err != nil {
			continue
		}
		for _, zf := range zr.File {
			if bytes.HasSuffix([]byte(zf.Name), []byte("/data.pkl")) {
				rc, _ := zf.Open()
				pkl, _ := io.ReadAll(rc)
				rc.Close()
				f.Add(pkl)
			}
		}
	}
}

// FuzzPickle runs the whitelisting unpickler on arbitrary bytes: it must
// never panic, hang or allocate beyond the input's size class.
func FuzzPickle(f *testing.F) {
	fixturePickles(f)
	f.Add(pickletest.New().Op('}').Str("w").Tensor("FloatStorage", "0", 4, 0, []int{4}, []int{1}).Op('s').Stop())
	f.Add(pickletest.New().Global("os", "system").Stop())
	for _, p := range hostilePickles() {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		Unpickle(b, false)
		Unpickle(b, true)
	})
}

// FuzzTorchZip loads arbitrary files as torch.save zips, reading every
// tensor it hands out: errors only, never a panic or a read outside the file.
func FuzzTorchZip(f *testing.F) {
	for _, p := range []string{"../../testdata/phi4flash-tiny/pytorch_model.bin"} {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add(stateFile(f))
	for _, p := range hostilePickles() {
		f.Add(torchZip(f, "archive", map[string][]byte{"data.pkl": p}, []string{"data.pkl"}))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		file, err := NewFile(bytes.NewReader(b), int64(len(b)), "fuzz.pth", Options{})
		if err != nil {
			return
		}
		for _, tn := range file.Tensors {
			if tn.Size() > int64(len(b)) && tn.NumElements() > 0 {
				// A strided view may be larger than its storage (stride 0 broadcasts).
				if tn.Size() > 1<<24 {
					continue
				}
			}
			tn.Bytes()
		}
	})
}

// hostilePickles are the structures that once crashed or exhausted the
// reader, as fuzz seeds: a dict keyed by a list that holds itself, a key
// nested 10,000 lists deep, hparams holding L = [L]*8, non-finite floats,
// a memo index far past the memo, and a BINBYTES8 longer than the pickle.
func hostilePickles() [][]byte {
	deep := pickletest.New().Op('}').Op(bytes.Repeat([]byte{']'}, 10000)...).Op(bytes.Repeat([]byte{'a'}, 9999)...).Op('K', 1, 's')
	return [][]byte{
		pickletest.New().Op('}', ']', 'q', 0, 'h', 0, 'a', 'K', 1, 's').Stop(),
		deep.Stop(),
		pickletest.New().Op('}').Str("hparams").Op(']', 'q', 0, '(').Op(bytes.Repeat([]byte{'h', 0}, 8)...).Op('e', 's').
			Str("model").Op('}', 's').Stop(),
		pickletest.New().Op('}').Str("hparams").Op('}', '(').Str("lr").Float(math.Inf(1)).Str("wd").Float(math.NaN()).Op('u', 's').Stop(),
		pickletest.New().Op('N', 'r', 0xff, 0xff, 0xff, 0x7f, 'j', 0xff, 0xff, 0xff, 0x7f).Stop(),
		pickletest.New().Op(0x8e, 0, 0, 0, 0x80, 0, 0, 0, 0, 1, 2, 3).Stop(),
	}
}
