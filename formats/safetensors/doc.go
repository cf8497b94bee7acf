// Package safetensors reads and writes safetensors files and sharded
// checkpoints (a folder with model.safetensors.index.json), following the
// format of huggingface/safetensors at 24b0b28 (README.md format section,
// safetensors/src/tensor.rs).
//
// The reader maps files with mmap and validates the whole header before it
// returns: length caps checked before allocating, a strict JSON walk that
// refuses duplicate names and unknown keys, every dtype of the format
// (F8/F6/F4 included: a tensor of a type the caller cannot use fails when it
// is used, never the file), and offsets that index the data buffer exactly,
// without holes or overlaps. Errors are *formats.FormatError values naming
// the file and tensor.
//
// The header parser is our own rather than github.com/nlpodyssey/safetensors:
// that package has a closed dtype enum (no F8), keeps the last of duplicate
// names and accepts unknown keys. It serves the tests as an independent
// implementation that our parser is cross-checked against.
//
// The writer streams one tensor at a time: the header is computed from
// shapes and dtypes first, tensors are ordered by descending element size
// then name (as the Rust writer does) so every tensor is aligned to its
// element size, and shards are capped at a maximum size.
package safetensors
