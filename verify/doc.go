// Package verify compares forward passes: a model against a golden file
// written by another implementation (the PyTorch reference), or two models
// against each other, position by position and block by block. It computes
// the figures a user judges a conversion by (maximum and relative error,
// NMSE, top-1 agreement, KL divergence, per-block divergence naming the
// first block that leaves tolerance) and writes reports as JSON, Markdown
// or HTML with an SVG plot.
//
// The golden format is safetensors with input_ids (I64 [T]), logits (F32
// [T, V]) and optionally hidden.<i> (F32 [T, E], the residual stream after
// block i); any implementation can write one.
package verify
