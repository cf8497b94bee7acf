package sambayconv

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/sambay-conv/sambay-conv"

// policy reads the import policy from the package table of docs/DESIGN.md
// (one source of truth for readers and for this test): for each package,
// the project packages and third-party modules its non-test files may
// import, in table order.
func policy(t *testing.T) (map[string][]string, []string) {
	b, err := os.ReadFile("docs/DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n## Packages\n")
	if !ok {
		t.Fatal("docs/DESIGN.md has no Packages section")
	}
	rest, _, _ = strings.Cut(rest, "\n## ")
	tick := regexp.MustCompile("`([^`]+)`")
	allowed := map[string][]string{}
	var order []string
	for _, line := range strings.Split(rest, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		pkg := tick.FindStringSubmatch(cells[1])[1]
		if pkg == "." {
			pkg = ""
		}
		var imports []string
		for _, m := range tick.FindAllStringSubmatch(cells[3], -1) {
			imp := m[1]
			if imp == "." {
				imp = ""
			}
			imports = append(imports, imp)
		}
		if _, dup := allowed[pkg]; dup {
			t.Errorf("docs/DESIGN.md lists %q twice", pkg)
		}
		allowed[pkg] = imports
		order = append(order, pkg)
	}
	if len(allowed) < 10 {
		t.Fatalf("read only %d packages from docs/DESIGN.md", len(allowed))
	}
	return allowed, order
}

// TestPolicyOrder checks that the table lists every package below all the
// project packages it may import, which makes the policy graph acyclic.
func TestPolicyOrder(t *testing.T) {
	allowed, order := policy(t)
	seen := map[string]bool{}
	for _, p := range order {
		for _, imp := range allowed[p] {
			if _, project := allowed[imp]; project && !seen[imp] {
				t.Errorf("docs/DESIGN.md lists %q before %q, which it imports", p, imp)
			}
		}
		seen[p] = true
	}
}

func TestImportPolicy(t *testing.T) {
	allowed, _ := policy(t)
	fset := token.NewFileSet()
	seen := map[string]bool{}
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == "testdata" || d.Name() == "interop" || strings.HasPrefix(d.Name(), ".")) && path != "." {
			return filepath.SkipDir // testdata is not code; interop is its own module
		}
		if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		pkg := filepath.ToSlash(filepath.Dir(path))
		if pkg == "." {
			pkg = ""
		}
		seen[pkg] = true
		rules, ok := allowed[pkg]
		if !ok {
			t.Errorf("package %q has no row in the import policy", pkg)
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p := strings.Trim(imp.Path.Value, `"`)
			if !strings.Contains(strings.SplitN(p, "/", 2)[0], ".") {
				continue // standard library
			}
			target := p
			if p == module || strings.HasPrefix(p, module+"/") {
				target = strings.TrimPrefix(strings.TrimPrefix(p, module), "/")
			}
			okImp := false
			for _, a := range rules {
				if target == a || (strings.Contains(a, ".") && strings.HasPrefix(target, a)) {
					okImp = true
				}
			}
			if !okImp {
				t.Errorf("%s imports %s, which the policy does not allow for %q", path, p, pkg)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for p := range allowed {
		if !seen[p] {
			missing = append(missing, p)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("policy rows for packages that do not exist: %v", missing)
	}
}
