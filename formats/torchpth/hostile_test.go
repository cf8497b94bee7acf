package torchpth

import (
	"archive/zip"
	"bytes"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/internal/pickletest"
)

// within runs f and fails the test if it takes longer than d (a hang or an
// exponential walk), instead of hanging the whole test binary.
func within(t *testing.T, d time.Duration, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() { f(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
		t.Fatalf("did not finish within %v", d)
	}
}

func openPickle(t *testing.T, pkl []byte) (*File, error) {
	z := torchZip(t, "ckpt", map[string][]byte{"data.pkl": pkl}, []string{"data.pkl"})
	return NewFile(bytes.NewReader(z), int64(len(z)), "hostile.pth", Options{})
}

// TestCyclicKey: a dict whose key is a list containing itself (L = [L];
// {L: 1}) made the error message format the key with %v, which recursed
// until the stack overflowed (a fatal error, not a panic).
func TestCyclicKey(t *testing.T) {
	p := pickletest.New().Op('}', ']', 'q', 0, 'h', 0, 'a').Int(1).Op('s')
	within(t, 10*time.Second, func() {
		_, err := openPickle(t, p.Stop())
		if !errors.Is(err, ErrNoStateDict) || !strings.Contains(err.Error(), "<*types.List>") {
			t.Errorf("cyclic key: %v", err)
		}
	})
}

// TestSharedHparamsAndNonFinite: hparams holding L = [L]*8 made the walk
// visit 8^16 nodes; a float inf broke JSON output later. Both end at once:
// the walk within its node budget, inf as the string Python prints.
func TestSharedHparamsAndNonFinite(t *testing.T) {
	p := pickletest.New().Op('}')
	p.Str("model").Op('}', 's')
	p.Str("hparams").Op('}')
	p.Str("loop").Op(']', 'q', 0, '(')
	for i := 0; i < 8; i++ {
		p.Op('h', 0)
	}
	p.Op('e', 's')
	p.Str("lr_max").Float(math.Inf(1)).Op('s')
	p.Str("bad").Float(math.NaN()).Op('s')
	p.Op('s')
	within(t, 10*time.Second, func() {
		f, err := openPickle(t, p.Stop())
		if err != nil {
			t.Fatal(err)
		}
		if f.Hparams["lr_max"] != "inf" || f.Hparams["bad"] != "nan" {
			t.Errorf("non-finite hparams: %#v %#v", f.Hparams["lr_max"], f.Hparams["bad"])
		}
		if _, ok := f.Hparams["loop"].([]any); !ok {
			t.Errorf("loop: %T", f.Hparams["loop"])
		}
	})
}

// TestPickleAmplification: 3 M one-byte EMPTY_LIST opcodes would become
// gigabytes of objects; they end at the object cap with ErrLimit.
func TestPickleAmplification(t *testing.T) {
	p := pickletest.New()
	p.Write(bytes.Repeat([]byte{']'}, 3_000_000))
	within(t, 20*time.Second, func() {
		_, err := openPickle(t, p.Stop())
		if !errors.Is(err, ErrLimit) || !strings.Contains(err.Error(), "objects") {
			t.Errorf("3 M lists: %v", err)
		}
	})
}

// TestDeflatedPickleBomb: a deflated data.pkl of 64 MiB of zeros (a few
// hundred KB in the file) is inflated only up to 100 times its stored size
// and refused with ErrLimit.
func TestDeflatedPickleBomb(t *testing.T) {
	var z bytes.Buffer
	zw := zip.NewWriter(&z)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "ckpt/data.pkl", Method: zip.Deflate})
	if err != nil {
		t.Fatal(err)
	}
	zero := make([]byte, 1<<20)
	for i := 0; i < 64; i++ {
		w.Write(zero)
	}
	zw.Close()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = NewFile(bytes.NewReader(z.Bytes()), int64(z.Len()), "bomb.pth", Options{})
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrLimit) {
		t.Errorf("deflate bomb of %d bytes: %v", z.Len(), err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 48<<20 {
		t.Errorf("the bomb allocated %d MB before the refusal", grew>>20)
	}
}
