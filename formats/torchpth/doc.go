// Package torchpth reads PyTorch torch.save files (the zip format of
// torch ≥ 1.6: torch/serialization.py _save, caffe2/serialize/
// inline_container.cc PyTorchStreamWriter) lazily: it unpickles data.pkl,
// maps each storage to its zip entry, and hands out formats.Tensor views
// that read only the storages of the state dict that was asked for. An
// ArchScale checkpoint's optimizer state, several times the model's size, is
// never read.
//
// The pickle runs on github.com/nlpodyssey/gopickle's machine behind a
// complete pre-scan of the opcode stream: every operand length is checked
// against the remaining bytes before anything is allocated, text-protocol
// and out-of-band opcodes are refused, memo reads must name an earlier memo
// write, and every GLOBAL is resolved through a whitelist (rebuild
// functions, typed storages, dtypes, OrderedDict, a few numpy and codecs
// helpers). Nothing in a pickle is ever executed; any other global fails the
// load with an error naming it and its byte offset, or becomes an inert
// placeholder with Options.AllowUnknownGlobals (a placeholder reachable from
// the state dict is still an error).
//
// It trusts nothing in the file: storage records must be STORED with the
// size their tensors need, tensor views must lie inside their storages
// (overflow-checked), and errors are *formats.FormatError values naming the
// file, the tensor and, for pickle errors, the byte offset in data.pkl.
// Non-contiguous views are gathered element by element when read.
package torchpth
