package tokenizer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/sambay-conv/sambay-conv/internal/sidefile"
)

// Load reads the tokenizer of a Hugging Face model folder: tokenizer.json
// when there is one (what transformers loads by default, the "fast"
// tokenizer), else the GPT2Tokenizer files vocab.json and merges.txt
// (with added_tokens.json and tokenizer_config.json's added tokens), which
// transformers' slow GPT2Tokenizer runs with GPT-2's split pattern and
// merges whatever the vocabulary. Files are read as untrusted input
// (regular files in the folder, size-capped).
func Load(dir string) (*Tokenizer, error) {
	b, err := sidefile.Read(dir, "tokenizer.json")
	if err == nil {
		t, err := ParseHF(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "tokenizer.json"), err)
		}
		return t, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	vocab, err := sidefile.Read(dir, "vocab.json")
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s has no tokenizer.json and no vocab.json: no tokenizer", dir)
	}
	if err != nil {
		return nil, err
	}
	merges, err := sidefile.Read(dir, "merges.txt")
	if err != nil {
		return nil, err
	}
	added := map[string]int{}
	if b, err := sidefile.Read(dir, "added_tokens.json"); err == nil {
		if err := json.Unmarshal(b, &added); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "added_tokens.json"), err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if b, err := sidefile.Read(dir, "tokenizer_config.json"); err == nil {
		var tc struct {
			Added map[string]struct {
				Content string `json:"content"`
			} `json:"added_tokens_decoder"`
		}
		if err := json.Unmarshal(b, &tc); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, "tokenizer_config.json"), err)
		}
		for id, a := range tc.Added {
			n, err := strconv.Atoi(id)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("%s: added token id %q", filepath.Join(dir, "tokenizer_config.json"), id)
			}
			added[a.Content] = n
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	t, err := ParseGPT2(vocab, merges, added)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return t, nil
}

// ParseGPT2 builds the tokenizer of GPT2Tokenizer files: vocab.json
// (byte-level token → id), merges.txt ("a b" lines after an optional
// "#version" line) and added tokens (content → id).
func ParseGPT2(vocabJSON, mergesTxt []byte, added map[string]int) (*Tokenizer, error) {
	var vocab map[string]int
	if err := json.Unmarshal(vocabJSON, &vocab); err != nil {
		return nil, fmt.Errorf("vocab.json: %w", err)
	}
	var merges []string
	sc := bufio.NewScanner(bytes.NewReader(mergesTxt))
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	for line := 1; sc.Scan(); line++ {
		s := strings.TrimRight(sc.Text(), "\r")
		if s == "" || line == 1 && strings.HasPrefix(s, "#version") {
			continue
		}
		merges = append(merges, s)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("merges.txt: %w", err)
	}
	var adds []hfAdded
	for s, id := range added {
		adds = append(adds, hfAdded{ID: id, Content: s, Special: true})
	}
	js, err := json.Marshal(map[string]any{
		"added_tokens":  adds,
		"pre_tokenizer": map[string]any{"type": "ByteLevel", "add_prefix_space": false, "use_regex": true},
		"model":         map[string]any{"type": "BPE", "vocab": vocab, "merges": merges},
	})
	if err != nil {
		return nil, err
	}
	return ParseHF(js)
}
