package safetensors

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/internal/sidefile"
)

// IndexName is the file name of a sharded checkpoint's index.
const IndexName = "model.safetensors.index.json"

// maxIndexSize bounds the index file read into memory; the 434-tensor
// release index is 35 KB.
const maxIndexSize = 64 << 20

// A Model is a checkpoint made of one or more safetensors files: a folder
// with an index, a folder with exactly one model.safetensors, or one file.
type Model struct {
	Path      string           // what was opened
	Files     []*File          // the shards, in index order of first appearance
	Tensors   []formats.Tensor // all tensors, sorted by name
	TotalSize int64            // Σ tensor bytes
	Warnings  []string         // non-fatal findings (e.g. index total_size mismatch)

	byName map[string]int
}

// Tensor returns the tensor of the given name.
func (m *Model) Tensor(name string) (formats.Tensor, bool) {
	i, ok := m.byName[name]
	if !ok {
		return formats.Tensor{}, false
	}
	return m.Tensors[i], true
}

// Close closes every shard.
func (m *Model) Close() error {
	var err error
	for _, f := range m.Files {
		if cerr := f.Close(); err == nil {
			err = cerr
		}
	}
	return err
}

// OpenModel opens a safetensors checkpoint at path: a .safetensors file, an
// index file, or a folder holding either an index or exactly one
// model.safetensors. Every shard named by the index is opened and checked
// against it: each listed tensor must be in its shard, every tensor of every
// shard must be listed for that shard, and no name may appear twice.
func OpenModel(path string) (*Model, error) { return OpenModelWith(path, OpenOptions{}) }

// OpenModelWith is OpenModel with open options for every shard.
func OpenModelWith(path string, opts OpenOptions) (*Model, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		if strings.HasSuffix(path, ".json") {
			return openIndexed(path, opts)
		}
		f, err := OpenWith(path, opts)
		if err != nil {
			return nil, err
		}
		return assemble(path, []*File{f}, nil)
	}
	idx := filepath.Join(path, IndexName)
	if _, err := os.Stat(idx); err == nil {
		return openIndexed(idx, opts)
	}
	single := filepath.Join(path, "model.safetensors")
	if _, err := os.Stat(single); err == nil {
		return OpenModelWith(single, opts)
	}
	matches, _ := filepath.Glob(filepath.Join(path, "*.safetensors"))
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("%s: no %s and no .safetensors file", path, IndexName)
	case 1:
		return OpenModelWith(matches[0], opts)
	}
	return nil, fmt.Errorf("%s: %d .safetensors files but no %s: which tensors belong together is ambiguous", path, len(matches), IndexName)
}

// ParseIndex parses a model.safetensors.index.json document: metadata
// (total_size, when present, an integer; other keys ignored) and a
// weight_map of tensor name → plain shard file name. Duplicate tensor names
// are refused.
func ParseIndex(data []byte) (total *int64, weightMap map[string]string, err error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(data, &top); err != nil || top == nil {
		return nil, nil, fmt.Errorf("not a JSON object")
	}
	if md, ok := top["metadata"]; ok && string(bytes.TrimSpace(md)) != "null" {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(md, &m); err != nil {
			return nil, nil, fmt.Errorf("metadata is not an object")
		}
		if ts, ok := m["total_size"]; ok {
			var v json.Number
			dec := json.NewDecoder(bytes.NewReader(ts))
			dec.UseNumber()
			if err := dec.Decode(&v); err != nil {
				return nil, nil, fmt.Errorf("metadata.total_size is not a number")
			}
			n, err := v.Int64()
			if err != nil || n < 0 {
				// Some writers store a float; accept integral values only.
				f, ferr := v.Float64()
				if ferr != nil || f < 0 || f != float64(int64(f)) {
					return nil, nil, fmt.Errorf("metadata.total_size %s is not a non-negative integer", v)
				}
				n = int64(f)
			}
			total = &n
		}
	}
	wm, ok := top["weight_map"]
	if !ok {
		return nil, nil, fmt.Errorf("no weight_map")
	}
	dec := json.NewDecoder(bytes.NewReader(wm))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, nil, fmt.Errorf("weight_map is not an object")
	}
	weightMap = make(map[string]string)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, nil, fmt.Errorf("weight_map: %v", err)
		}
		name := tok.(string)
		var file string
		if err := dec.Decode(&file); err != nil {
			return nil, nil, fmt.Errorf("weight_map[%q] is not a string", name)
		}
		if _, dup := weightMap[name]; dup {
			return nil, nil, fmt.Errorf("weight_map lists tensor %q twice", name)
		}
		if file == "" || file == "." || file == ".." || strings.ContainsAny(file, `/\`) || filepath.IsAbs(file) || strings.Contains(file, "..") {
			return nil, nil, fmt.Errorf("weight_map[%q] = %q is not a plain file name in the model folder", name, file)
		}
		weightMap[name] = file
	}
	return total, weightMap, nil
}

func openIndexed(indexPath string, opts OpenOptions) (*Model, error) {
	ierr := func(format string, args ...any) error {
		return formats.Errorf(formats.ErrFormat, indexPath, "", -1, format, args...)
	}
	fi, err := os.Stat(indexPath)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxIndexSize {
		return nil, ierr("index of %d bytes exceeds the limit %d", fi.Size(), maxIndexSize)
	}
	data, err := sidefile.ReadFile(indexPath)
	if err != nil {
		return nil, err
	}
	total, wm, err := ParseIndex(data)
	if err != nil {
		return nil, ierr("%v", err)
	}
	names := make([]string, 0, len(wm))
	for n := range wm {
		names = append(names, n)
	}
	sort.Strings(names)
	var order []string
	seen := map[string]bool{}
	for _, n := range names {
		if !seen[wm[n]] {
			seen[wm[n]] = true
			order = append(order, wm[n])
		}
	}
	dir := filepath.Dir(indexPath)
	var files []*File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	for _, shard := range order {
		p := filepath.Join(dir, shard)
		f, err := OpenWith(p, opts)
		if err != nil {
			closeAll()
			if errors.Is(err, fs.ErrNotExist) {
				var first string
				for _, n := range names {
					if wm[n] == shard {
						first = n
						break
					}
				}
				return nil, formats.Errorf(formats.ErrFormat, indexPath, first, -1, "index names shard %s, which does not exist", shard)
			}
			return nil, err
		}
		files = append(files, f)
	}
	for _, f := range files {
		shard := filepath.Base(f.Name)
		for _, t := range f.Tensors {
			listed, ok := wm[t.Name]
			if !ok {
				closeAll()
				return nil, formats.Errorf(formats.ErrFormat, f.Name, t.Name, -1, "tensor is not listed in %s", IndexName)
			}
			if listed != shard {
				closeAll()
				return nil, formats.Errorf(formats.ErrFormat, f.Name, t.Name, -1, "tensor is listed in %s under shard %s", IndexName, listed)
			}
		}
	}
	for _, n := range names {
		found := false
		for _, f := range files {
			if filepath.Base(f.Name) == wm[n] {
				_, found = f.Tensor(n)
				break
			}
		}
		if !found {
			closeAll()
			return nil, formats.Errorf(formats.ErrFormat, indexPath, n, -1, "index maps tensor to shard %s, which does not contain it", wm[n])
		}
	}
	return assemble(indexPath, files, total)
}

func assemble(path string, files []*File, total *int64) (*Model, error) {
	n := 0
	for _, f := range files {
		n += len(f.Tensors)
	}
	m := &Model{Path: path, Files: files, byName: make(map[string]int, n), Tensors: make([]formats.Tensor, 0, n)}
	for _, f := range files {
		for _, t := range f.Tensors {
			if _, dup := m.byName[t.Name]; dup {
				m.Close()
				return nil, formats.Errorf(formats.ErrFormat, f.Name, t.Name, -1, "tensor appears in two shards")
			}
			m.byName[t.Name] = -1
			m.Tensors = append(m.Tensors, t)
			m.TotalSize += t.Size()
		}
	}
	sort.Slice(m.Tensors, func(i, j int) bool { return m.Tensors[i].Name < m.Tensors[j].Name })
	for i, t := range m.Tensors {
		m.byName[t.Name] = i
	}
	if total != nil && *total != m.TotalSize {
		m.Warnings = append(m.Warnings, fmt.Sprintf("%s: metadata.total_size %d differs from the %d bytes of the tensors", path, *total, m.TotalSize))
	}
	return m, nil
}
