package batch

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/sambay-conv/sambay-conv/convert"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
)

// A Record is the result of one task, written atomically beside the job's
// other records once the task's output is complete (or once it failed). A
// rerun trusts a record whose key is the task's current key and whose
// output files are still as recorded.
type Record struct {
	Task   string  `json:"task"`
	Group  string  `json:"group"`
	Key    string  `json:"key"`
	Status string  `json:"status"` // ok or failed
	Error  string  `json:"error,omitempty"`
	Target *Target `json:"target,omitempty"` // nil for the import
	Source string  `json:"source"`
	// SourceDigest identifies the source's content: the digests its
	// import manifest records (never a re-hash on a rerun).
	SourceDigest string     `json:"source_digest"`
	Output       string     `json:"output"`
	Files        []FileStat `json:"files,omitempty"`
	// SourceFiles are the source's files as the import saw them (import
	// record only): a source whose files still have this size and
	// modification time is not read again.
	SourceFiles   []FileStat `json:"source_files,omitempty"`
	Model         string     `json:"model"`
	Size          string     `json:"size"`
	Params        int64      `json:"parameters"`
	TensorBytes   int64      `json:"tensor_bytes,omitempty"`
	BitsPerWeight float64    `json:"bits_per_weight,omitempty"`
	Parity        *Parity    `json:"parity,omitempty"`
	Seconds       float64    `json:"seconds"`
	Finished      string     `json:"finished"`
	Host          string     `json:"host"`
	PID           int        `json:"pid"`
	ToolVersion   string     `json:"tool_version"`
}

// Parity is a target's comparison with its canonical import, or the
// import's with a golden.
type Parity struct {
	Against string  `json:"against"`
	Verdict string  `json:"verdict"`
	Tokens  int     `json:"tokens"`
	KLDMean float64 `json:"kld_mean"`
	KLDP99  float64 `json:"kld_p99"`
	KLDMax  float64 `json:"kld_max"`
	Top1    float64 `json:"top1_agreement"`
	NMSE    float64 `json:"nmse"`
	MaxKLD  float64 `json:"max_kld,omitempty"`
}

// A FileStat is one file of an output or source: its path (relative to the
// output root for outputs), size, modification time and, for outputs,
// sha256.
type FileStat struct {
	Name    string `json:"name"`
	Size    int64  `json:"size"`
	ModTime int64  `json:"mtime_ns"`
	SHA256  string `json:"sha256,omitempty"`
}

// key is the sha256 of its parts, each on its own line.
func key(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:%s\n", len(p), p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// filesOf lists the regular files of an output (a file, or a folder's
// files, sorted) relative to root, with their size and modification time;
// with digest, also their sha256.
func filesOf(root, path string, digest bool) ([]FileStat, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	paths := []string{path}
	if fi.IsDir() {
		es, err := os.ReadDir(path)
		if err != nil {
			return nil, err
		}
		paths = paths[:0]
		for _, e := range es {
			if e.Type().IsRegular() && !strings.HasPrefix(e.Name(), ".") {
				paths = append(paths, filepath.Join(path, e.Name()))
			}
		}
	}
	sort.Strings(paths)
	var out []FileStat
	for _, p := range paths {
		st, err := statFile(p)
		if err != nil {
			return nil, err
		}
		if st.Name, err = filepath.Rel(root, p); err != nil {
			st.Name = p
		}
		if digest {
			mf, err := convert.HashFile(p)
			if err != nil {
				return nil, err
			}
			st.SHA256 = mf.SHA256
		}
		out = append(out, st)
	}
	return out, nil
}

func statFile(p string) (FileStat, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return FileStat{}, err
	}
	if !fi.Mode().IsRegular() {
		return FileStat{}, fmt.Errorf("%s is not a regular file", p)
	}
	return FileStat{Name: p, Size: fi.Size(), ModTime: fi.ModTime().UnixNano()}, nil
}

// sameFiles reports whether the files recorded are still there, unchanged:
// same list, sizes and modification times, and with rehash the same
// sha256. It says what differs.
func sameFiles(root, output string, recorded []FileStat, rehash bool) (bool, string) {
	now, err := filesOf(root, output, rehash)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, "output missing"
		}
		return false, err.Error()
	}
	if len(now) != len(recorded) {
		return false, fmt.Sprintf("output has %d files, the record %d", len(now), len(recorded))
	}
	for i, f := range now {
		r := recorded[i]
		switch {
		case f.Name != r.Name:
			return false, fmt.Sprintf("file %s is not in the record", f.Name)
		case f.Size != r.Size || f.ModTime != r.ModTime:
			return false, fmt.Sprintf("%s changed since it was written", f.Name)
		case rehash && f.SHA256 != r.SHA256:
			return false, fmt.Sprintf("%s has sha256 %s, the record %s", f.Name, f.SHA256, r.SHA256)
		}
	}
	return true, ""
}

// readRecord reads a record; a missing one is nil without error.
func readRecord(path string) (*Record, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r Record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}

func writeRecord(path string, r *Record) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o777); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, append(b, '\n'))
}
