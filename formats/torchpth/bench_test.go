package torchpth

import (
	"archive/zip"
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/internal/pickletest"
)

// writeArchScaleLike writes an fp32 checkpoint shaped like ArchScale's
// fabric.save: nParams model tensors of elems floats each, and an optimizer
// state of three moments per parameter (3× the model's bytes).
func writeArchScaleLike(tb testing.TB, path string, nParams, elems int) int64 {
	p := pickletest.New()
	p.Op('}', '(')
	p.Str("model").Global("collections", "OrderedDict").Op(')', 'R', '(')
	key := 0
	for i := 0; i < nParams; i++ {
		p.Str(fmt.Sprintf("transformer.h.%d.mlp.w1.weight", i))
		p.Tensor("FloatStorage", strconv.Itoa(key), elems, 0, []int{elems / 256, 256}, []int{256, 1})
		key++
	}
	p.Op('u')
	p.Str("optimizer").Op('}', '(').Str("state").Op('}', '(')
	for i := 0; i < nParams; i++ {
		p.Int(i).Op('}', '(')
		for _, m := range []string{"exp_avg", "exp_avg_sq", "max_exp_avg_sq"} {
			p.Str(m).Tensor("FloatStorage", strconv.Itoa(key), elems, 0, []int{elems}, []int{1})
			key++
		}
		p.Op('u')
	}
	p.Op('u', 'u')
	p.Str("hparams").Op('}', '(').Str("model_name").Str("sambay_d8").Str("depth_scale").Op(0x89).Op('u')
	p.Str("iter_num").Int(5)
	p.Op('u')
	pkl := p.Stop()

	f, err := os.Create(path)
	if err != nil {
		tb.Fatal(err)
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	zw := zip.NewWriter(bw)
	w, _ := zw.CreateHeader(&zip.FileHeader{Name: "ckpt/data.pkl", Method: zip.Store})
	w.Write(pkl)
	data := pickletest.F32(make([]float32, elems)...)
	for i := range data {
		data[i] = byte(i * 31)
	}
	for k := 0; k < key; k++ {
		w, _ := zw.CreateHeader(&zip.FileHeader{Name: "ckpt/data/" + strconv.Itoa(k), Method: zip.Store})
		w.Write(data)
	}
	w, _ = zw.CreateHeader(&zip.FileHeader{Name: "ckpt/version", Method: zip.Store})
	w.Write([]byte("3\n"))
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	bw.Flush()
	f.Close()
	return int64(nParams) * int64(len(data))
}

// BenchmarkArchScaleCheckpoint measures, on a 1 GB fp32 checkpoint whose
// optimizer state is 3× the model: the time to open it and list its
// tensors, and the bytes read to load every model tensor, as a ratio to
// the model's bytes (the optimizer state must never be read).
func BenchmarkArchScaleCheckpoint(b *testing.B) {
	if testing.Short() {
		b.Skip("writes a 1 GB file; not in -short")
	}
	path := filepath.Join(b.TempDir(), "ckpt.pth")
	model := writeArchScaleLike(b, path, 64, 1<<20)
	fi, _ := os.Stat(path)
	var openNs float64
	var opens int
	var ratio float64
	for b.Loop() {
		start := time.Now()
		f, err := Open(path, Options{NoMmap: true})
		if err != nil {
			b.Fatal(err)
		}
		if len(f.Names()) != 64 {
			b.Fatalf("%d tensors", len(f.Names()))
		}
		openNs += float64(time.Since(start).Nanoseconds())
		opens++
		f.Close()

		fh, _ := os.Open(path)
		cr := &countingReaderAt{r: fh}
		pf, err := NewFile(cr, fi.Size(), path, Options{})
		if err != nil {
			b.Fatal(err)
		}
		buf := make([]byte, 1<<20)
		for _, t := range pf.Tensors {
			for off := int64(0); off < t.Size(); off += int64(len(buf)) {
				t.ReadAt(buf, off)
			}
		}
		fh.Close()
		ratio = float64(cr.n) / float64(model)
	}
	b.ReportMetric(openNs/float64(opens)/1e6, "open-list-ms")
	b.ReportMetric(ratio, "read/model-bytes")
	b.ReportMetric(float64(fi.Size())/1e9, "file-GB")
}
