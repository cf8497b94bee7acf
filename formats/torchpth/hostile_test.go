package torchpth

import (
	"bytes"
	"errors"
	"math"
	"strings"
	"testing"
	"time"
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
	p := newPk().op('}', ']', 'q', 0, 'h', 0, 'a').int(1).op('s')
	within(t, 10*time.Second, func() {
		_, err := openPickle(t, p.stop())
		if !errors.Is(err, ErrNoStateDict) || !strings.Contains(err.Error(), "<*types.List>") {
			t.Errorf("cyclic key: %v", err)
		}
	})
}

// TestSharedHparamsAndNonFinite: hparams holding L = [L]*8 made the walk
// visit 8^16 nodes; a float inf broke JSON output later. Both end at once:
// the walk within its node budget, inf as the string Python prints.
func TestSharedHparamsAndNonFinite(t *testing.T) {
	p := newPk().op('}')
	p.str("model").op('}', 's')
	p.str("hparams").op('}')
	p.str("loop").op(']', 'q', 0, '(')
	for i := 0; i < 8; i++ {
		p.op('h', 0)
	}
	p.op('e', 's')
	p.str("lr_max").float(math.Inf(1)).op('s')
	p.str("bad").float(math.NaN()).op('s')
	p.op('s')
	within(t, 10*time.Second, func() {
		f, err := openPickle(t, p.stop())
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
