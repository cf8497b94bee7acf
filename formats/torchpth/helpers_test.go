package torchpth

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/sambay-conv/sambay-conv/internal/pickletest"
)

// torchZip writes a torch.save-style zip: stored records under prefix/.
func torchZip(t testing.TB, prefix string, records map[string][]byte, order []string) []byte {
	t.Helper()
	return pickletest.Zip(prefix, records, order, false)
}

func writeTemp(t testing.TB, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "x.pth")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}
