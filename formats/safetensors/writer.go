package safetensors

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/sambay-conv/sambay-conv/formats"
	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
)

// DefaultMaxShardSize is the shard size cap used by Hugging Face's
// save_pretrained ("5GB", decimal).
const DefaultMaxShardSize = 5_000_000_000

// WriteOptions control WriteModel.
type WriteOptions struct {
	MaxShardSize int64             // bytes of tensor data per shard; 0 means DefaultMaxShardSize
	Metadata     map[string]string // __metadata__ of every shard, e.g. {"format": "pt"}
	// RejectNonFinite makes the writer fail on the first NaN or infinity of
	// a float tensor, naming the tensor and the element index.
	RejectNonFinite bool
	// Progress, when set, is called with the number of tensor bytes just
	// written, possibly from several goroutines at once.
	Progress func(n int64)
	// Ctx, when set, is checked between chunks; a cancelled write returns its error.
	Ctx context.Context
	// KeepOrder assigns tensors to shards in the order given instead of by
	// name (MLX groups modules in model order).
	KeepOrder bool
	// ComputeOrder names tensors in the order to compute them (lazy
	// tensors are read in this order; each is still placed where the
	// format's sorted layout puts it); the others follow in file order.
	// Exports of one model that read it in the same order can share a read.
	ComputeOrder []string
	// AlwaysIndex writes model.safetensors.index.json also for one shard;
	// IndexMetadata adds keys to its "metadata"; IndexIndent sets its JSON
	// indentation (default two spaces).
	AlwaysIndex   bool
	IndexMetadata map[string]any
	IndexIndent   string
}

// A WrittenFile describes one file written by WriteModel.
type WrittenFile struct {
	Name   string // base name
	Size   int64
	SHA256 string // ContentDigest for a safetensors file, plain sha256 for the index
}

// A WrittenTensor describes one tensor written by WriteModel.
type WrittenTensor struct {
	Name   string
	DType  formats.DType
	Shape  []int64
	File   string // base name of its shard
	SHA256 string // of its bytes
}

// A WriteResult lists what WriteModel wrote.
type WriteResult struct {
	Files     []WrittenFile // shards, then the index if any
	Tensors   []WrittenTensor
	TotalSize int64
}

// less orders tensors as the Rust writer does: descending dtype (its enum is
// in increasing alignment order), then name (tensor.rs 227–231).
func less(a, b formats.Tensor) bool {
	if a.DType.Size() != b.DType.Size() {
		return a.DType.Size() > b.DType.Size()
	}
	if a.DType != b.DType {
		return a.DType > b.DType
	}
	return a.Name < b.Name
}

// WriteModel writes tensors into dir as model.safetensors when they fit in
// one shard, else as model-0000i-of-0000n.safetensors plus
// model.safetensors.index.json. Tensors are assigned to shards in name
// order, a new shard starting when the next tensor would pass the cap (a
// tensor larger than the cap gets a shard of its own). The caller owns dir
// and its cleanup on error (write into a temporary folder).
func WriteModel(dir string, tensors []formats.Tensor, opts WriteOptions) (*WriteResult, error) {
	maxShard := opts.MaxShardSize
	if maxShard <= 0 {
		maxShard = DefaultMaxShardSize
	}
	sorted := append([]formats.Tensor(nil), tensors...)
	seen := map[string]bool{}
	for _, t := range sorted {
		if seen[t.Name] {
			return nil, fmt.Errorf("safetensors: tensor %s given twice", t.Name)
		}
		seen[t.Name] = true
	}
	if !opts.KeepOrder {
		sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	}
	var shards [][]formats.Tensor
	var cur []formats.Tensor
	var curSize int64
	for _, t := range sorted {
		if len(cur) > 0 && curSize+t.Size() > maxShard {
			shards = append(shards, cur)
			cur, curSize = nil, 0
		}
		cur = append(cur, t)
		curSize += t.Size()
	}
	if len(cur) > 0 || len(shards) == 0 {
		shards = append(shards, cur)
	}
	res := &WriteResult{}
	weightMap := map[string]string{}
	for i, shard := range shards {
		name := "model.safetensors"
		if len(shards) > 1 {
			name = fmt.Sprintf("model-%05d-of-%05d.safetensors", i+1, len(shards))
		}
		wf, wts, err := writeFile(filepath.Join(dir, name), shard, opts)
		if err != nil {
			return nil, err
		}
		res.Files = append(res.Files, wf)
		res.Tensors = append(res.Tensors, wts...)
		for _, t := range shard {
			weightMap[t.Name] = name
			res.TotalSize += t.Size()
		}
	}
	if len(shards) > 1 || opts.AlwaysIndex {
		md := map[string]any{"total_size": res.TotalSize}
		for k, v := range opts.IndexMetadata {
			md[k] = v
		}
		indent := opts.IndexIndent
		if indent == "" {
			indent = "  "
		}
		idx, err := json.MarshalIndent(struct {
			Metadata  map[string]any    `json:"metadata"`
			WeightMap map[string]string `json:"weight_map"`
		}{md, weightMap}, "", indent)
		if err != nil {
			return nil, err
		}
		idx = append(idx, '\n')
		if err := atomicfile.WriteFile(filepath.Join(dir, IndexName), idx); err != nil {
			return nil, err
		}
		sum := sha256.Sum256(idx)
		res.Files = append(res.Files, WrittenFile{Name: IndexName, Size: int64(len(idx)), SHA256: hex.EncodeToString(sum[:])})
	}
	sort.Slice(res.Tensors, func(i, j int) bool { return res.Tensors[i].Name < res.Tensors[j].Name })
	return res, nil
}

var shardName = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^model-[0-9]{5}-of-[0-9]{5}\.safetensors$`)
})

// IsModelFile reports whether name is a file WriteModel writes: the single
// model.safetensors, a shard model-NNNNN-of-NNNNN.safetensors, or the index.
func IsModelFile(name string) bool {
	return name == "model.safetensors" || name == IndexName || shardName().MatchString(name)
}

// WriteFile writes tensors into one safetensors file at path, under a
// temporary name renamed into place when complete (nothing is left at path
// on error).
func WriteFile(path string, tensors []formats.Tensor, opts WriteOptions) (WrittenFile, []WrittenTensor, error) {
	f, err := atomicfile.Create(path)
	if err != nil {
		return WrittenFile{}, nil, err
	}
	defer f.Cleanup()
	wf, wts, err := writeTo(f.File, path, tensors, opts)
	if err != nil {
		return wf, nil, err
	}
	if err := f.Commit(); err != nil {
		return WrittenFile{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	for i := range wts {
		wts[i].File = filepath.Base(path)
	}
	wf.Name = filepath.Base(path)
	return wf, wts, nil
}

// EncodeHeader returns the 8-byte length prefix and header for tensors in
// the order given, padded with spaces to a multiple of 8 bytes.
func EncodeHeader(tensors []formats.Tensor, metadata map[string]string) []byte {
	var sb strings.Builder
	sb.WriteByte('{')
	first := true
	if len(metadata) > 0 {
		keys := make([]string, 0, len(metadata))
		for k := range metadata {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		sb.WriteString(`"__metadata__":{`)
		for i, k := range keys {
			if i > 0 {
				sb.WriteByte(',')
			}
			kb, _ := json.Marshal(k)
			vb, _ := json.Marshal(metadata[k])
			sb.Write(kb)
			sb.WriteByte(':')
			sb.Write(vb)
		}
		sb.WriteByte('}')
		first = false
	}
	var off int64
	for _, t := range tensors {
		if !first {
			sb.WriteByte(',')
		}
		first = false
		nb, _ := json.Marshal(t.Name)
		sb.Write(nb)
		sb.WriteString(`:{"dtype":"`)
		sb.WriteString(t.DType.String())
		sb.WriteString(`","shape":[`)
		for i, d := range t.Shape {
			if i > 0 {
				sb.WriteByte(',')
			}
			sb.WriteString(strconv.FormatInt(d, 10))
		}
		end := off + t.Size()
		fmt.Fprintf(&sb, `],"data_offsets":[%d,%d]}`, off, end)
		off = end
	}
	sb.WriteByte('}')
	for (sb.Len())%8 != 0 {
		sb.WriteByte(' ')
	}
	out := make([]byte, 8, 8+sb.Len())
	binary.LittleEndian.PutUint64(out, uint64(sb.Len()))
	return append(out, sb.String()...)
}

// ContentDigest is the digest the writer records for a safetensors file:
// sha256 of the file's header (8-byte length and JSON, as stored) followed by
// the raw 32-byte sha256 of each tensor's bytes in file order. It identifies
// the file's content as a whole-file sha256 would, but needs no second pass
// over the data: the per-tensor digests are computed anyway.
func ContentDigest(header []byte, tensorDigests [][]byte) string {
	h := sha256.New()
	h.Write(header)
	for _, d := range tensorDigests {
		h.Write(d)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// chunkBytes is the size of one read-check-write-hash step.
const chunkBytes = 1 << 20

// writeFile writes a shard inside a folder that is itself renamed into
// place when complete (WriteModel's callers write into an atomicfile.Dir).
func writeFile(path string, tensors []formats.Tensor, opts WriteOptions) (WrittenFile, []WrittenTensor, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o666)
	if err != nil {
		return WrittenFile{}, nil, err
	}
	defer f.Close()
	wf, wts, err := writeTo(f, path, tensors, opts)
	if err != nil {
		return wf, nil, err
	}
	if err := f.Sync(); err != nil {
		return WrittenFile{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	return wf, wts, nil
}

// writeTo writes the file's bytes to f (the callers sync it: WriteFile
// through its atomic commit, writeFile itself).
func writeTo(f *os.File, path string, tensors []formats.Tensor, opts WriteOptions) (WrittenFile, []WrittenTensor, error) {
	ordered := append([]formats.Tensor(nil), tensors...)
	sort.SliceStable(ordered, func(i, j int) bool { return less(ordered[i], ordered[j]) })
	// schedule is the order tensors are computed in: ComputeOrder's, then
	// the file's.
	schedule := make([]int, 0, len(ordered))
	at := make(map[string]int, len(ordered))
	for i, t := range ordered {
		at[t.Name] = i
	}
	for _, name := range opts.ComputeOrder {
		if i, ok := at[name]; ok {
			schedule = append(schedule, i)
			delete(at, name)
		}
	}
	for i, t := range ordered {
		if _, ok := at[t.Name]; ok {
			schedule = append(schedule, i)
		}
	}
	hdr := EncodeHeader(ordered, opts.Metadata)
	if _, err := f.Write(hdr); err != nil {
		return WrittenFile{}, nil, fmt.Errorf("%s: %w", path, err)
	}
	// The header fixes every tensor's offset, so tensors are independent:
	// a small pool of workers each reads, checks, writes (at its offset)
	// and hashes whole tensors, one chunk at a time. Memory is one chunk
	// per worker; the output does not depend on the number of workers.
	offsets := make([]int64, len(ordered))
	size := int64(len(hdr))
	for i, t := range ordered {
		offsets[i] = size
		size += t.Size()
	}
	digests := make([][]byte, len(ordered))
	var (
		mu       sync.Mutex
		firstErr error
		failed   atomic.Bool
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
		failed.Store(true)
	}
	next := make(chan int)
	var wg sync.WaitGroup
	workers := min(runtime.GOMAXPROCS(0), 4, max(1, len(ordered)))
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, chunkBytes)
			h := sha256.New()
			for i := range next {
				if failed.Load() {
					continue
				}
				d, err := writeTensor(f, offsets[i], ordered[i], buf, h, opts, failed.Load)
				if err != nil {
					if err != errStopped {
						fail(err)
					}
					continue
				}
				digests[i] = d
			}
		}()
	}
	for _, i := range schedule {
		next <- i
	}
	close(next)
	wg.Wait()
	if firstErr != nil {
		if pe, ok := firstErr.(*os.PathError); ok {
			return WrittenFile{}, nil, fmt.Errorf("%s: %w", path, pe.Err)
		}
		return WrittenFile{}, nil, firstErr
	}
	var wts []WrittenTensor
	for i, t := range ordered {
		wts = append(wts, WrittenTensor{Name: t.Name, DType: t.DType, Shape: t.Shape, File: filepath.Base(path), SHA256: hex.EncodeToString(digests[i])})
	}
	return WrittenFile{Name: filepath.Base(path), Size: size, SHA256: ContentDigest(hdr, digests)}, wts, nil
}

var errStopped = errors.New("stopped")

// writeTensor copies t to f at offset base, chunk by chunk: read, check
// finiteness, write, hash. It returns the sha256 of the tensor's bytes.
func writeTensor(f *os.File, base int64, t formats.Tensor, buf []byte, h hash.Hash, opts WriteOptions, stopped func() bool) ([]byte, error) {
	h.Reset()
	size := t.Size()
	es := int64(t.DType.Size())
	for off := int64(0); off < size; {
		if stopped() {
			return nil, errStopped
		}
		if opts.Ctx != nil {
			if err := opts.Ctx.Err(); err != nil {
				return nil, err
			}
		}
		m := min(int64(len(buf)), size-off)
		c := buf[:m]
		if _, err := t.ReadAt(c, off); err != nil && err != io.EOF {
			return nil, err
		}
		if opts.RejectNonFinite && es > 0 {
			if i := formats.FirstNonFinite(c, t.DType, int(m/es)); i >= 0 {
				return nil, formats.Errorf(formats.ErrFormat, t.File, t.Name, -1, "element %d is not finite", off/es+int64(i))
			}
		}
		if _, err := f.WriteAt(c, base+off); err != nil {
			return nil, err
		}
		h.Write(c)
		if opts.Progress != nil {
			opts.Progress(m)
		}
		off += m
	}
	return h.Sum(nil), nil
}
