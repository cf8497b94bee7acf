// Package gguf reads and writes GGUF v3 files (ggml docs/gguf.md and
// src/gguf.cpp at ggml d99724f). It knows bytes, never the model.
//
// The reader accepts hostile input: counts, lengths and dimensions are
// checked against caps and against the bytes that remain before anything is
// allocated, and every rule ggml's own loader enforces is enforced here
// (unique non-empty keys, known value types, no nested arrays, a UINT32
// power-of-two general.alignment, tensor names of at most 63 bytes, at most
// 4 dimensions, ne[0] a multiple of the type's block size, tensor data
// contiguous in info order with each tensor padded to the alignment, the
// last one included). Errors are *formats.FormatError values.
//
// The writer computes the whole header and every offset first, then writes
// tensors at their offsets from a bounded pool of workers; the output depends
// only on the content, and is renamed into place only when complete.
package gguf
