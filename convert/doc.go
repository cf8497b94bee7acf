// Package convert turns SambaY checkpoints into the canonical model and
// writes it: layouts (Hugging Face Phi4Flash, ArchScale HEAD with separate
// q/k/v projections, ArchScale fused attn.attn, bare state dicts) with their
// name maps onto the canonical HF names, configuration resolution (HF
// config.json with the Phi4FlashConfig class defaults, the built-in ArchScale
// table, lit_gpt config files, checkpoint hparams and μP++), validation
// (every expected tensor present with its exact shape, nothing unexpected,
// tied weights equal, values finite), and the canonical writer (sharded
// safetensors, config.json, generation_config.json, manifest.json) that
// builds the output in a temporary folder and renames it into place only
// when complete. It does import only: every output format lives in its own
// package (ggufmodel, mlxmodel), which reads the canonical folder through
// OpenCanonical; all names come from package layout. The facts it relies
// on: docs/MODEL.md §1, §5, §6.
//
// Tensors stay lazy from source to output: a row permutation, a split or a
// dtype conversion is a view that reads its source a chunk at a time, so the
// memory an import needs does not grow with the model.
package convert
