package torchpth

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"testing"
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
	f.Add(newPk().op('}').str("w").tensor("FloatStorage", "0", 4, 0, []int{4}, []int{1}).op('s').stop())
	f.Add(newPk().global("os", "system").stop())
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
