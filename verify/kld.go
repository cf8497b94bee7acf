package verify

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/sambay-conv/sambay-conv/internal/atomicfile"
	"github.com/sambay-conv/sambay-conv/reference"
)

// The .kld reference-logits format of llama-perplexity
// (--kl-divergence-base; llama.cpp tools/perplexity/perplexity.cpp 72–106,
// 452–628): "_logits_", n_ctx, n_vocab, n_chunk (int32), the tokens
// (int32), then for every chunk and every scored position (the second half
// of the chunk, n_ctx/2 … n_ctx−2) a record of 2·⌈n_vocab/2⌉ + 4 uint16: the
// float32 scale and min log-probability as two halves each, then the
// log-probabilities quantized to 16 bits. Written from the Go reference so
// that a runtime's quantized model can be scored against the original with
// llama-perplexity --kl-divergence.

// kldRecord encodes one position's logits as perplexity.cpp's log_softmax does.
func kldRecord(rec []uint16, logits []float32) {
	mx := logits[0]
	mn := logits[0]
	for _, v := range logits {
		mx = max(mx, v)
		mn = min(mn, v)
	}
	mn = max(mn, mx-16)
	var sumExp float64
	for _, v := range logits {
		sumExp += float64(float32(math.Exp(float64(v - mx))))
	}
	lse := float32(math.Log(sumExp))
	minLogProb := mn - mx - lse
	scale := (mx - mn) / 65535
	sb, mb := math.Float32bits(scale), math.Float32bits(minLogProb)
	rec[0], rec[1], rec[2], rec[3] = uint16(sb), uint16(sb>>16), uint16(mb), uint16(mb>>16)
	clear(rec[4:])
	if scale == 0 {
		return
	}
	iscale := 1 / scale
	for i, v := range logits {
		if v > mn {
			f := float32(iscale * (v - mn))
			val := f + 12582912 // nearest_int: round half to even
			rec[4+i] = uint16(int32(math.Float32bits(val)&0x007fffff) - 0x00400000)
		}
	}
}

// WriteKLD runs m over tokens cut into chunks of nctx (each from an empty
// state) and writes the .kld file at path.
func WriteKLD(path string, m *reference.Model, tokens []int, nctx int) error {
	if nctx < 4 || len(tokens) < nctx {
		return fmt.Errorf("kld: need at least one chunk of n_ctx ≥ 4 tokens (have %d tokens, n_ctx %d)", len(tokens), nctx)
	}
	nchunk := len(tokens) / nctx
	V := m.Cfg.VocabSize
	nv := 2*((V+1)/2) + 4
	f, err := atomicfile.Create(path)
	if err != nil {
		return err
	}
	defer f.Cleanup()
	w := bufio.NewWriter(f)
	w.WriteString("_logits_")
	for _, v := range []int32{int32(nctx), int32(V), int32(nchunk)} {
		binary.Write(w, binary.LittleEndian, v)
	}
	for _, t := range tokens[:nchunk*nctx] {
		binary.Write(w, binary.LittleEndian, int32(t))
	}
	rec := make([]uint16, nv)
	for c := 0; c < nchunk; c++ {
		res, err := m.Run(m.NewState(), tokens[c*nctx:(c+1)*nctx], reference.Want{AllLogits: true})
		if err != nil {
			return err
		}
		for p := nctx / 2; p <= nctx-2; p++ {
			kldRecord(rec, res.Logits[p*V:(p+1)*V])
			if err := binary.Write(w, binary.LittleEndian, rec); err != nil {
				return err
			}
		}
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Commit()
}

// KLDFile is a parsed .kld file.
type KLDFile struct {
	NCtx, NVocab, NChunk int
	Tokens               []int
	// LogProbs returns the stored log-probabilities of record r (chunk-major).
	records [][]uint16
}

// ReadKLD parses a .kld file, checking its counts against its size.
func ReadKLD(r io.Reader, size int64) (*KLDFile, error) {
	var magic [8]byte
	if _, err := io.ReadFull(r, magic[:]); err != nil || string(magic[:]) != "_logits_" {
		return nil, fmt.Errorf("kld: not a llama-perplexity logits file")
	}
	var h [3]int32
	if err := binary.Read(r, binary.LittleEndian, &h); err != nil {
		return nil, err
	}
	k := &KLDFile{NCtx: int(h[0]), NVocab: int(h[1]), NChunk: int(h[2])}
	nv := 2*((k.NVocab+1)/2) + 4
	per := k.NCtx - 1 - k.NCtx/2
	if k.NCtx < 4 || k.NVocab < 1 || k.NChunk < 1 ||
		20+4*int64(k.NChunk)*int64(k.NCtx)+2*int64(k.NChunk)*int64(per)*int64(nv) != size {
		return nil, fmt.Errorf("kld: header %v does not match the %d-byte file", h, size)
	}
	toks := make([]int32, k.NChunk*k.NCtx)
	if err := binary.Read(r, binary.LittleEndian, toks); err != nil {
		return nil, err
	}
	for _, t := range toks {
		k.Tokens = append(k.Tokens, int(t))
	}
	for i := 0; i < k.NChunk*per; i++ {
		rec := make([]uint16, nv)
		if err := binary.Read(r, binary.LittleEndian, rec); err != nil {
			return nil, err
		}
		k.records = append(k.records, rec)
	}
	return k, nil
}

// LogProb returns the stored log-probability of token tok in record i.
func (k *KLDFile) LogProb(i, tok int) float64 {
	rec := k.records[i]
	scale := math.Float32frombits(uint32(rec[0]) | uint32(rec[1])<<16)
	minLP := math.Float32frombits(uint32(rec[2]) | uint32(rec[3])<<16)
	return float64(scale*float32(rec[4+tok]) + minLP)
}

// Records returns the number of scored positions stored.
func (k *KLDFile) Records() int { return len(k.records) }
