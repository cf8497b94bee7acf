// Package ggufmodel is the SambaY GGUF schema (docs/GGUF.md): its metadata
// keys as named constants, and beside each other the writer (Export, and
// ExportGeneric for any architecture) and the reader (configFromMetadata,
// ReadTokenizer, Load for the forward pass). Tensor names come from package
// layout, types and mixes from ggml and quant; the bytes are formats/gguf's.
//
// A file that claims another architecture is refused, and so are metadata
// keys of the wrong type, a layer-type list that disagrees with the SambaY
// layout, and tensors whose element count disagrees with the config. A
// quantized matrix is never widened as a whole: Load hands the reference
// row decoders over the mapped file.
package ggufmodel
