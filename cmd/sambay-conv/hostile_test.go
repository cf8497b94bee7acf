//go:build unix

package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sambay-conv/sambay-conv/internal/pickletest"
)

// Bounds every hostile input must end within: a clear error, soon, in
// little memory. The child is this test binary, whose own peak RSS is
// about 30 MB.
const (
	hostileTime = 20 * time.Second
	hostileRSS  = 400 << 20
)

// pth wraps a data.pkl (and storages) into a torch.save zip.
func pth(t *testing.T, dir, name string, pkl []byte, deflate bool, storages ...[]byte) string {
	rec := map[string][]byte{"data.pkl": pkl, "version": []byte("3\n")}
	order := []string{"data.pkl"}
	for i, s := range storages {
		k := fmt.Sprintf("data/%d", i)
		rec[k] = s
		order = append(order, k)
	}
	order = append(order, "version")
	return write(t, filepath.Join(dir, name), pickletest.Zip("archive", rec, order, deflate))
}

func write(t *testing.T, path string, b []byte) string {
	t.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

// repeat returns n copies of op.
func repeat(n int, op ...byte) []byte { return bytes.Repeat(op, n) }

// ggufFile writes a GGUF v3 file with one string key and the given F32
// tensors (name, dims, offset), followed by 64 bytes of data.
func ggufFile(t *testing.T, path string, nTensors uint64, tensors []ggufInfo) string {
	var b bytes.Buffer
	le := func(v any) { binary.Write(&b, binary.LittleEndian, v) }
	str := func(s string) { le(uint64(len(s))); b.WriteString(s) }
	b.WriteString("GGUF")
	le(uint32(3))
	le(nTensors)
	le(uint64(1))
	str("general.architecture")
	le(uint32(8))
	str("sambay")
	for _, ti := range tensors {
		str(ti.name)
		le(uint32(len(ti.dims)))
		for _, d := range ti.dims {
			le(d)
		}
		le(uint32(0))
		le(ti.offset)
	}
	for b.Len()%32 != 0 {
		b.WriteByte(0)
	}
	b.Write(make([]byte, 64))
	return write(t, path, b.Bytes())
}

type ggufInfo struct {
	name   string
	dims   []uint64
	offset uint64
}

// safetensorsFile writes a file whose 8-byte header length is n and whose
// header is h.
func safetensorsFile(t *testing.T, path string, n uint64, h string, data int) string {
	b := binary.LittleEndian.AppendUint64(nil, n)
	b = append(b, h...)
	return write(t, path, append(b, make([]byte, data)...))
}

// copyModel copies the bundled HF example into dir/m and applies change.
func copyModel(t *testing.T, dir string, change func(m string)) string {
	m := filepath.Join(dir, "m")
	os.MkdirAll(m, 0o755)
	hf := filepath.Join(td, "phi4flash-tiny", "hf")
	ents, _ := os.ReadDir(hf)
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join(hf, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		write(t, filepath.Join(m, e.Name()), b)
	}
	change(m)
	return m
}

// mlxFolder quantizes the bundled example to an MLX folder dir/mlx.
func mlxFolder(t *testing.T, dir string) string {
	m := filepath.Join(dir, "mlx")
	if code, _, stderr := runCLI(t, "quant", filepath.Join(td, "phi4flash-tiny", "hf"), "--to", "mlx", "--group-size", "32", "--quiet", "-o", m); code != 0 {
		t.Fatalf("quant --to mlx: %s", stderr)
	}
	return m
}

// editJSON rewrites one JSON file of a folder.
func editJSON(t *testing.T, path string, edit func(map[string]any)) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	edit(v)
	b, _ = json.Marshal(v)
	write(t, path, b)
}

// TestHostileInputs runs every command a hostile input can reach in a
// child process with a time and memory bound, one case per defect class
// (cycles, bombs, lying sizes and offsets, config lies, special files),
// and asserts exit 1 with an error naming the file, and no output left.
func TestHostileInputs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts about 30 processes, some reading 100 MB")
	}
	type hcase struct {
		name  string
		make  func(t *testing.T, dir string) string // the input path
		cmds  [][]string                            // commands; "IN" and "OUT" are replaced
		names string                                // what the error must name (default: the input's base name)
		ok    bool                                  // the input is odd but valid: exit 0 and a complete output
	}
	imp := [][]string{{"import", "IN", "-o", "OUT"}}
	cases := []hcase{
		{"pickle: key is a list that holds itself", func(t *testing.T, d string) string {
			// {L: 1} with L = [L]
			return pth(t, d, "cyclic.pth", pickletest.New().Op('}', ']', 'q', 0, 'h', 0, 'a', 'K', 1, 's').Stop(), false)
		}, imp, "", false},
		{"pickle: key nested a million lists deep", func(t *testing.T, d string) string {
			p := pickletest.New().Op('}').Op(repeat(1<<20, ']')...).Op(repeat(1<<20-1, 'a')...).Op('K', 1, 's')
			return pth(t, d, "deep.pth", p.Stop(), true)
		}, imp, "", false},
		{"pickle: hparams L = [L]*8", func(t *testing.T, d string) string {
			p := pickletest.New().Op('}').Str("hparams").Op('}', '(').Str("model_name").Str("sambay_d8").
				Str("extra").Op(']', 'q', 0, '(').Op(repeat(8, 'h', 0)...).Op('e', 'u', 's')
			p.Str("model").Op('}', 's')
			return pth(t, d, "shared.pth", p.Stop(), false)
		}, imp, "", false},
		{"pickle: inf and nan in hparams", func(t *testing.T, d string) string {
			p := pickletest.New().Op('}').Str("hparams").Op('}', '(').Str("model_name").Str("sambay_d8").
				Str("lr").Float(math.Inf(1)).Str("wd").Float(math.NaN()).Op('u', 's')
			p.Str("model").Op('}', 's')
			return pth(t, d, "nonfinite.pth", p.Stop(), false)
		}, imp, "", false},
		{"pickle: 3M empty lists", func(t *testing.T, d string) string {
			return pth(t, d, "lists.pth", pickletest.New().Op(repeat(3<<20, ']')...).Stop(), true)
		}, imp, "", false},
		{"pickle: 3M memo entries", func(t *testing.T, d string) string {
			var ops []byte
			for i := range 3 << 20 {
				ops = append(ops, 'N', 'r')
				ops = binary.LittleEndian.AppendUint32(ops, uint32(i))
				ops = append(ops, '0')
			}
			return pth(t, d, "memo.pth", pickletest.New().Op(ops...).Op('}').Stop(), true)
		}, imp, "", false},
		{"pickle: BINBYTES8 of 1.9 GB", func(t *testing.T, d string) string {
			p := pickletest.New().Op(0x8e).Op(binary.LittleEndian.AppendUint64(nil, 1_900_000_000)...).Op(repeat(64, 0)...)
			return pth(t, d, "bytes8.pth", p.Stop(), false)
		}, imp, "", false},
		{"zip: data.pkl deflated from 64 MiB of zeros", func(t *testing.T, d string) string {
			return pth(t, d, "bomb.pth", make([]byte, 64<<20), true)
		}, imp, "", false},
		{"pth: 8 GiB broadcast view of a 4-byte storage", func(t *testing.T, d string) string {
			p := pickletest.New().Op('}').Str("model").Op('}').Str("lm_head.weight").
				Tensor("FloatStorage", "0", 1, 0, []int{1 << 16, 1 << 15}, []int{0, 0}).Op('s', 's')
			return pth(t, d, "broadcast.pth", p.Stop(), false, pickletest.F32(1))
		}, [][]string{{"import", "IN", "-o", "OUT", "--allow-extra"}}, "", false},
		{"gguf: tensor offsets that wrap around 2^64", func(t *testing.T, d string) string {
			var ts []ggufInfo
			for i := range uint64(4) {
				ts = append(ts, ggufInfo{fmt.Sprintf("t%d", i), []uint64{1 << 60}, i << 62})
			}
			return ggufFile(t, filepath.Join(d, "wrap.gguf"), 4, ts)
		}, [][]string{{"inspect", "IN"}, {"verify", "IN", "--decode", "--tokens", "1,2"}}, "", false},
		{"gguf: 2^60 tensors in a small file", func(t *testing.T, d string) string {
			return ggufFile(t, filepath.Join(d, "count.gguf"), 1<<60, nil)
		}, [][]string{{"inspect", "IN"}, {"verify", "IN", "--decode", "--tokens", "1,2"}}, "", false},
		{"safetensors: header length 1 TiB", func(t *testing.T, d string) string {
			return safetensorsFile(t, filepath.Join(d, "huge.safetensors"), 1<<40, "{}", 0)
		}, [][]string{{"inspect", "IN"}, {"quant", "IN", "--generic", "--type", "q8_0", "-o", "OUT.gguf"}}, "", false},
		{"safetensors: lone surrogate in a tensor name", func(t *testing.T, d string) string {
			h := `{"a\ud800":{"dtype":"F32","shape":[2,32],"data_offsets":[0,256]}}`
			return safetensorsFile(t, filepath.Join(d, "surrogate.safetensors"), uint64(len(h)), h, 256)
		}, [][]string{{"inspect", "IN"}, {"quant", "IN", "--generic", "--type", "q8_0", "-o", "OUT.gguf"}}, "", false},
		{"config: vocab_size 2^31", func(t *testing.T, d string) string {
			return copyModel(t, d, func(m string) {
				editJSON(t, filepath.Join(m, "config.json"), func(v map[string]any) { v["vocab_size"] = 1 << 31 })
			})
		}, [][]string{{"verify", "IN", "--decode", "--tokens", "1,2"}, {"import", "IN", "-o", "OUT"}}, "2147483648", false},
		{"side file: tokenizer.json is a 1 GiB sparse file", func(t *testing.T, d string) string {
			return copyModel(t, d, func(m string) { os.Truncate(filepath.Join(m, "tokenizer.json"), 1<<30) })
		}, [][]string{{"import", "IN", "-o", "OUT"}, {"quant", "IN", "--type", "q8_0", "-o", "OUT.gguf"}}, "tokenizer.json", false},
		{"side file: config.json links to itself", func(t *testing.T, d string) string {
			return copyModel(t, d, func(m string) {
				os.Remove(filepath.Join(m, "config.json"))
				os.Symlink("config.json", filepath.Join(m, "config.json"))
			})
		}, [][]string{{"import", "IN", "-o", "OUT"}, {"inspect", "IN"}}, "config.json", false},
		{"mlx: config.json says group_size 64, the scales say 32", func(t *testing.T, d string) string {
			m := mlxFolder(t, d)
			editJSON(t, filepath.Join(m, "config.json"), func(v map[string]any) {
				v["quantization"].(map[string]any)["group_size"] = 64
			})
			return m
		}, [][]string{{"verify", "IN", "--decode", "--tokens", "1,2"}}, "group size 64", false},
		{"mlx: scales stored as I16", func(t *testing.T, d string) string {
			m := mlxFolder(t, d)
			p := filepath.Join(m, "model.safetensors")
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// Same byte size, same header length: only the dtype lies.
			i := bytes.Index(b, []byte(`.scales":{"dtype":"`))
			j := i + len(`.scales":{"dtype":"`)
			k := bytes.IndexByte(b[j:], '"')
			if i < 0 || k != 4 {
				t.Fatalf("no 4-letter scales dtype in %s", p)
			}
			copy(b[j:], `I16" `)
			write(t, p, b)
			return m
		}, [][]string{{"verify", "IN", "--decode", "--tokens", "1,2"}}, "scales", false},
		{name: "safetensors: a 0-d tensor in quant --generic", make: func(t *testing.T, d string) string {
			h := `{"s":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"w":{"dtype":"F32","shape":[2,32],"data_offsets":[4,260]}}`
			p := filepath.Join(d, "scalar.safetensors")
			safetensorsFile(t, p, uint64(len(h)), h, 260)
			return p
		}, cmds: [][]string{{"quant", "IN", "--generic", "--type", "q8_0", "-o", "OUT.gguf"}, {"quant", "IN", "--generic", "--to", "mlx", "--group-size", "32", "-o", "OUT"}}, ok: true},
		{"input: a FIFO", func(t *testing.T, d string) string {
			p := filepath.Join(d, "fifo.safetensors")
			if err := syscall.Mkfifo(p, 0o644); err != nil {
				t.Skip(err)
			}
			return p
		}, [][]string{{"inspect", "IN"}, {"import", "IN", "-o", "OUT"}, {"quant", "IN", "--generic", "--type", "q8_0", "-o", "OUT.gguf"}}, "", false},
	}
	var worstT time.Duration
	var worstRSS int64
	var worstTName, worstRSSName string
	n := 0
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			in := c.make(t, dir)
			want := c.names
			if want == "" {
				want = filepath.Base(in)
			}
			for _, cmd := range c.cmds {
				out := filepath.Join(dir, "out")
				args := make([]string, len(cmd))
				for i, a := range cmd {
					args[i] = strings.NewReplacer("IN", in, "OUT", out).Replace(a)
				}
				peak := filepath.Join(dir, "status")
				os.Remove(peak)
				cmd := child(args...)
				cmd.Env = append(cmd.Env, "SAMBAY_CONV_CHILD_PEAK="+peak)
				var stderr bytes.Buffer
				cmd.Stderr = &stderr
				start := time.Now()
				if err := cmd.Start(); err != nil {
					t.Fatal(err)
				}
				timer := time.AfterFunc(hostileTime, func() { cmd.Process.Kill() })
				err := cmd.Wait()
				el := time.Since(start)
				if !timer.Stop() {
					t.Fatalf("%s: still running after %v", args[0], hostileTime)
				}
				code := 0
				if ee, ok := err.(*exec.ExitError); ok {
					code = ee.ExitCode()
				} else if err != nil {
					t.Fatal(err)
				}
				rss := vmHWM(t, peak)
				n++
				if el > worstT {
					worstT, worstTName = el, c.name+" ("+args[0]+")"
				}
				if rss > worstRSS {
					worstRSS, worstRSSName = rss, c.name+" ("+args[0]+")"
				}
				msg := strings.TrimSpace(stderr.String())
				t.Logf("%s: exit %d in %v, peak RSS %d MB: %s", args[0], code, el.Round(time.Millisecond), rss>>20, errorLine(msg))
				switch {
				case c.ok && code != 0:
					t.Errorf("%s: exit %d, want 0:\n%s", args[0], code, msg)
				case !c.ok && (code != 1 || !strings.Contains(msg, want)):
					t.Errorf("%s: exit %d, want 1 and an error naming %s:\n%s", args[0], code, want, msg)
				}
				if rss > hostileRSS {
					t.Errorf("%s: peak RSS %d MB, bound %d MB", args[0], rss>>20, hostileRSS>>20)
				}
				for _, p := range []string{out, out + ".gguf"} {
					_, err := os.Lstat(p)
					if err == nil && !c.ok {
						t.Errorf("%s: left %s", args[0], p)
					}
					if c.ok && err != nil && slices.Contains(args, p) {
						t.Errorf("%s: wrote no %s", args[0], p)
					}
				}
				ents, _ := os.ReadDir(dir)
				for _, e := range ents {
					if strings.Contains(e.Name(), ".tmp-") {
						t.Errorf("%s: left %s", args[0], e.Name())
					}
				}
			}
		})
	}
	t.Logf("%d runs over %d hostile inputs: worst time %v (%s), worst peak RSS %d MB (%s)",
		n, len(cases), worstT.Round(time.Millisecond), worstTName, worstRSS>>20, worstRSSName)
}

// vmHWM reads the peak resident set (VmHWM) from a copy of
// /proc/self/status, in bytes.
func vmHWM(t *testing.T, path string) int64 {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("no peak RSS from the child (%v): not Linux?", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kb)
			return kb << 10
		}
	}
	t.Fatalf("%s has no VmHWM", path)
	return 0
}

// errorLine is the line of stderr that holds the error.
func errorLine(s string) string {
	for _, line := range strings.Split(s, "\n") {
		if strings.HasPrefix(line, "sambay-conv:") {
			return line
		}
	}
	return s
}
