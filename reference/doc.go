// Package reference knows the SambaY model: its configuration (Config, a
// superset of the Hugging Face Phi4Flash and ArchScale lit_gpt configs), the
// layer layout (which layer is Mamba, sliding-window attention, the memory
// Mamba, the full-attention KV producer, a GMU or a cross-attention layer),
// and the canonical tensor set of a configuration: the Hugging Face
// Phi4Flash names with their shapes (docs/MODEL.md §1, §2, §5.1).
//
// It never knows a file layout's names: mapping ArchScale or any other
// naming onto the canonical names is package convert's job. Configs are
// checked by Validate before use; every rule of docs/MODEL.md §1.1 that can
// be stated on the canonical config is enforced there.
package reference
