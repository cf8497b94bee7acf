package formats

import (
	"bytes"
	"io"
	"math/rand"
	"testing"
)

func seqBytes(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + 3)
	}
	return b
}

// readAll reads t through ReadAt at ragged offsets and sizes.
func readRagged(t *testing.T, tn Tensor, seed int64) []byte {
	t.Helper()
	size := tn.Size()
	out := make([]byte, size)
	r := rand.New(rand.NewSource(seed))
	for off := int64(0); off < size; {
		n := min(int64(1+r.Intn(37)), size-off)
		got, err := tn.ReadAt(out[off:off+n], off)
		if err != nil && !(err == io.EOF && int64(got) == n) {
			t.Fatalf("ReadAt(%d, %d): %d, %v", off, n, got, err)
		}
		off += n
	}
	return out
}

func TestConvertedView(t *testing.T) {
	x := bulkInput(1000)
	src := make([]byte, 4*len(x))
	EncodeFloat32(src, x, F32)
	st := NewTensorBytes("w", F32, []int64{10, 100}, "mem", src)
	for _, dt := range []DType{BF16, F16, F64} {
		v := Converted(st, dt)
		want := make([]byte, len(x)*dt.Size())
		EncodeFloat32(want, x, dt)
		if got := readRagged(t, v, 1); !bytes.Equal(got, want) {
			t.Fatalf("Converted to %v differs from EncodeFloat32", dt)
		}
		b, err := v.Bytes()
		if err != nil || !bytes.Equal(b, want) {
			t.Fatalf("Converted to %v: Bytes() differs (%v)", dt, err)
		}
	}
	if same := Converted(st, F32); same.mem == nil || &same.mem[0] != &st.mem[0] {
		t.Errorf("Converted to the same dtype should return the tensor itself")
	}
}

func TestGatherRows(t *testing.T) {
	a := NewTensorBytes("a", BF16, []int64{4, 3}, "mem", seqBytes(24))
	bb := seqBytes(12)
	for i := range bb {
		bb[i] ^= 0xff
	}
	b := NewTensorBytes("b", BF16, []int64{2, 3}, "mem", bb)
	z := Zeros("z", BF16, []int64{1, 3})
	g, err := GatherRows("g", []int64{5, 3}, []RowRange{{Src: a, Start: 2, Count: 2}, {Src: z, Count: 1}, {Src: b, Start: 0, Count: 1}, {Src: a, Start: 0, Count: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ab, _ := a.Bytes()
	want := append(append(append(append([]byte{}, ab[12:24]...), make([]byte, 6)...), bb[0:6]...), ab[0:6]...)
	for seed := int64(0); seed < 5; seed++ {
		if got := readRagged(t, g, seed); !bytes.Equal(got, want) {
			t.Fatalf("seed %d: gathered % x, want % x", seed, got, want)
		}
	}
	for _, bad := range []struct {
		name  string
		shape []int64
		parts []RowRange
	}{
		{"rows do not add up", []int64{3, 3}, []RowRange{{Src: a, Count: 2}}},
		{"range outside source", []int64{2, 3}, []RowRange{{Src: a, Start: 3, Count: 2}}},
		{"row width differs", []int64{2, 4}, []RowRange{{Src: a, Count: 2}}},
		{"dtype differs", []int64{2, 3}, []RowRange{{Src: a, Count: 1}, {Src: Zeros("f", F32, []int64{1, 3}), Count: 1}}},
	} {
		if _, err := GatherRows("g", bad.shape, bad.parts); err == nil {
			t.Errorf("%s: no error", bad.name)
		}
	}
}

func TestNumElementsOverflow(t *testing.T) {
	if _, err := NumElements([]int64{1 << 32, 1 << 32}); err == nil {
		t.Error("2^64 elements: no overflow error")
	}
	if _, err := NumElements([]int64{3, -1}); err == nil {
		t.Error("negative dimension accepted")
	}
	if n, err := NumElements([]int64{}); err != nil || n != 1 {
		t.Errorf("scalar: %d, %v", n, err)
	}
	if _, err := ByteSize(F4, 3); err == nil {
		t.Error("3 F4 elements (12 bits) accepted as whole bytes")
	}
}
