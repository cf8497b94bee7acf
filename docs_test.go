package sambayconv

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDocCitations checks that every "docs/<NAME>.md §<SECTION>" a comment or
// script cites names a file of docs/ and a heading in it ("§4.6" a heading
// numbered 4.6, "§Mixes" a heading that starts with that word), so that a
// reader of the code can follow every citation in the repository itself.
func TestDocCitations(t *testing.T) {
	cite := regexp.MustCompile(`docs/([A-Z]+\.md)(?: §([0-9.]*[0-9]|[A-Z][a-z]+(?: [a-z]+)?))?`)
	headings := map[string][]string{}
	n := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".py")) {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, m := range cite.FindAllStringSubmatch(string(b), -1) {
			n++
			hs, ok := headings[m[1]]
			if !ok {
				doc, err := os.ReadFile(filepath.Join("docs", m[1]))
				if err != nil {
					t.Errorf("%s cites docs/%s, which does not exist", path, m[1])
					headings[m[1]] = nil
					continue
				}
				for _, line := range strings.Split(string(doc), "\n") {
					if strings.HasPrefix(line, "#") {
						hs = append(hs, strings.TrimSpace(strings.TrimLeft(line, "#")))
					}
				}
				headings[m[1]] = hs
			}
			if m[2] == "" || hs == nil {
				continue
			}
			found := false
			for _, h := range hs {
				if strings.HasPrefix(h, m[2]+" ") || strings.HasPrefix(h, m[2]+".") || h == m[2] {
					found = true
				}
			}
			if !found {
				t.Errorf("%s cites docs/%s §%s: no such heading", path, m[1], m[2])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n < 50 {
		t.Errorf("only %d citations found", n)
	}
}
