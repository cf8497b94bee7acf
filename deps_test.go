package sambayconv

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/sambay-conv/sambay-conv"

// allowed is the import policy of DESIGN.md, one row per package: the
// project packages (and third-party modules) its non-test files may import.
// A format package knows bytes, never the model; reference knows the model,
// never a file layout's names; cmd is wiring only.
var allowed = map[string][]string{
	"":                          {},
	"internal/mmap":             {},
	"internal/atomicfile":       {},
	"internal/testmodel":        {"formats", "formats/safetensors", "reference"},
	"ggml":                      {},
	"report":                    {"internal/atomicfile"},
	"layout":                    {},
	"formats":                   {"github.com/x448/float16"},
	"formats/safetensors":       {"formats", "internal/mmap", "internal/atomicfile"},
	"formats/torchpth":          {"formats", "internal/mmap", "github.com/nlpodyssey/gopickle"},
	"formats/gguf":              {"formats", "internal/mmap", "internal/atomicfile", "ggml"},
	"quant":                     {"formats", "ggml", "github.com/x448/float16", "golang.org/x/sys/cpu"},
	"reference/internal/kernel": {"github.com/x448/float16", "golang.org/x/sys/cpu"},
	"reference":                 {"formats", "layout", "reference/internal/kernel"},
	"convert":                   {"formats", "formats/safetensors", "formats/torchpth", "layout", "reference", "internal/atomicfile"},
	"ggufmodel":                 {"formats", "formats/gguf", "formats/safetensors", "ggml", "quant", "layout", "reference", "convert"},
	"mlxmodel":                  {"formats", "formats/safetensors", "quant", "layout", "reference", "convert", "internal/atomicfile"},
	"model":                     {"formats", "formats/gguf", "formats/safetensors", "ggml", "quant", "reference", "convert", "ggufmodel", "mlxmodel"},
	"verify":                    {"formats", "formats/safetensors", "reference", "model", "report", "internal/atomicfile"},
	"pipeline":                  {"convert", "ggufmodel", "mlxmodel", "model", "verify", "reference", "report"},
	"cmd/sambay-conv": {"", "convert", "ggml", "ggufmodel", "mlxmodel", "model", "formats", "reference", "verify", "quant", "pipeline", "formats/safetensors", "formats/torchpth",
		"github.com/urfave/cli/v3", "github.com/schollz/progressbar/v3", "golang.org/x/term"},
}

func TestImportPolicy(t *testing.T) {
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
