package ggufmodel

import (
	"errors"
	"fmt"
	"math"
	"strconv"

	"github.com/sambay-conv/sambay-conv/formats/gguf"
	"github.com/sambay-conv/sambay-conv/reference"
)

// Arch is general.architecture of SambaY files.
const Arch = "sambay"

// The SambaY GGUF metadata keys (docs/GGUF.md §Metadata). The writer
// (metadata) and the reader (configFromMetadata) use these names only.
const (
	KeyArchitecture    = "general.architecture"
	KeyAlignment       = "general.alignment"
	KeyFileType        = "general.file_type"
	KeyQuantVersion    = "general.quantization_version"
	KeyName            = "general.name"
	KeyBasename        = "general.basename"
	KeySizeLabel       = "general.size_label"
	KeyContextLength   = Arch + ".context_length"
	KeyEmbeddingLength = Arch + ".embedding_length"
	KeyBlockCount      = Arch + ".block_count"
	KeyFFNLength       = Arch + ".feed_forward_length"
	KeyVocabSize       = Arch + ".vocab_size"
	KeyHeadCount       = Arch + ".attention.head_count"
	KeyHeadCountKV     = Arch + ".attention.head_count_kv"
	KeyKeyLength       = Arch + ".attention.key_length"
	KeyValueLength     = Arch + ".attention.value_length"
	KeyLayerNormEps    = Arch + ".attention.layer_norm_epsilon"
	KeyRMSNormEps      = Arch + ".attention.layer_norm_rms_epsilon"
	KeySlidingWindow   = Arch + ".attention.sliding_window"
	KeySWAPattern      = Arch + ".attention.sliding_window_pattern"
	KeyAttnScale       = Arch + ".attention.scale"
	KeyDiffAttn        = Arch + ".attention.differential"
	KeyDiffLambdaConst = Arch + ".attention.differential_lambda_const"
	KeySubNormEps      = Arch + ".attention.sub_norm_rms_epsilon"
	KeyLayerTypes      = Arch + ".layer_types"
	KeyMemoryLayer     = Arch + ".memory_layer"
	KeyKVLayer         = Arch + ".kv_layer"
	KeyConvKernel      = Arch + ".ssm.conv_kernel"
	KeyInnerSize       = Arch + ".ssm.inner_size"
	KeyStateSize       = Arch + ".ssm.state_size"
	KeyTimeStepRank    = Arch + ".ssm.time_step_rank"
	KeyDtBCRMS         = Arch + ".ssm.dt_b_c_rms"
	KeyGMUInnerSize    = Arch + ".gmu.inner_size"
	KeyResidualScale   = Arch + ".residual_scale"
	KeyLogitScale      = Arch + ".logit_scale"
	KeySourceFormat    = "sambay_conv.source_format"
	KeySourceSHA256    = "sambay_conv.source_sha256"
	KeyToolVersion     = "sambay_conv.version"
)

// layerTypeCode is the sambay.layer_types code of each role.
var layerTypeCode = map[reference.Role]uint32{reference.RoleMamba: 0, reference.RoleSWA: 1, reference.RoleFullKV: 2,
	reference.RoleGMU: 3, reference.RoleCross: 4, reference.RoleMambaMemory: 5}

// metadata returns the SambaY schema keys of c in file order
// (docs/GGUF.md §Metadata): general keys, hyperparameters, layer layout.
func metadata(c *reference.Config, fileType uint32, quantized bool, name, sourceFormat string) []gguf.KV {
	u := func(v int) uint32 { return uint32(v) }
	kv := []gguf.KV{
		{Key: KeyArchitecture, Value: Arch},
		{Key: KeyAlignment, Value: uint32(gguf.DefaultAlignment)},
		{Key: KeyFileType, Value: fileType},
	}
	if quantized {
		kv = append(kv, gguf.KV{Key: KeyQuantVersion, Value: uint32(2)})
	}
	if name != "" {
		kv = append(kv, gguf.KV{Key: KeyName, Value: name})
	}
	kv = append(kv,
		gguf.KV{Key: KeyContextLength, Value: u(c.MaxPosition)},
		gguf.KV{Key: KeyEmbeddingLength, Value: u(c.NEmbd)},
		gguf.KV{Key: KeyBlockCount, Value: u(c.NLayer)},
		gguf.KV{Key: KeyFFNLength, Value: u(c.Intermediate)},
		gguf.KV{Key: KeyVocabSize, Value: u(c.VocabSize)},
		gguf.KV{Key: KeyHeadCount, Value: u(c.NHead)},
		gguf.KV{Key: KeyHeadCountKV, Value: u(c.NKVHead)},
		gguf.KV{Key: KeyKeyLength, Value: u(c.HeadDim)},
		gguf.KV{Key: KeyValueLength, Value: u(c.HeadDim)},
	)
	if c.Norm == reference.LayerNorm {
		kv = append(kv, gguf.KV{Key: KeyLayerNormEps, Value: float32(c.NormEps)})
	} else {
		kv = append(kv, gguf.KV{Key: KeyRMSNormEps, Value: float32(c.NormEps)})
	}
	pattern := gguf.Array{Type: gguf.TypeBool}
	layerTypes := gguf.Array{Type: gguf.TypeUint32}
	for i := 0; i < c.NLayer; i++ {
		pattern.Values = append(pattern.Values, c.Role(i) == reference.RoleSWA)
		layerTypes.Values = append(layerTypes.Values, layerTypeCode[c.Role(i)])
	}
	kv = append(kv,
		gguf.KV{Key: KeySlidingWindow, Value: u(c.Window)},
		gguf.KV{Key: KeySWAPattern, Value: pattern},
		gguf.KV{Key: KeyAttnScale, Value: float32(c.AttnScale)},
		gguf.KV{Key: KeyDiffAttn, Value: c.DiffAttn},
	)
	if c.DAConstLamb {
		kv = append(kv, gguf.KV{Key: KeyDiffLambdaConst, Value: true})
	}
	if c.DiffAttn {
		kv = append(kv, gguf.KV{Key: KeySubNormEps, Value: float32(1e-5)})
	}
	kv = append(kv, gguf.KV{Key: KeyLayerTypes, Value: layerTypes})
	if c.GMU {
		kv = append(kv, gguf.KV{Key: KeyMemoryLayer, Value: u(c.MemoryLayer())})
	}
	kv = append(kv,
		gguf.KV{Key: KeyKVLayer, Value: u(c.KVLayer())},
		gguf.KV{Key: KeyConvKernel, Value: u(c.DConv)},
		gguf.KV{Key: KeyInnerSize, Value: u(c.Di())},
		gguf.KV{Key: KeyStateSize, Value: u(c.DState)},
		gguf.KV{Key: KeyTimeStepRank, Value: u(c.DtRank)},
		gguf.KV{Key: KeyDtBCRMS, Value: false},
		gguf.KV{Key: KeyGMUInnerSize, Value: u(c.Dm())},
		gguf.KV{Key: KeyResidualScale, Value: float32(c.ResidualScale())},
		gguf.KV{Key: KeyLogitScale, Value: float32(c.LogitScale)},
	)
	if sourceFormat != "" {
		kv = append(kv, gguf.KV{Key: KeySourceFormat, Value: sourceFormat})
	}
	return kv
}

// configFromMetadata reads the canonical config back from SambaY metadata
// (docs/GGUF.md §Metadata), checking every key's type and the derived keys
// (layer types, KV layer, inner sizes) against the layout they imply.
func configFromMetadata(f *gguf.File) (reference.Config, error) {
	var errs []error
	u := func(k string) int {
		v, ok := f.Get(k)
		x, ok2 := v.(uint32)
		if !ok || !ok2 {
			errs = append(errs, fmt.Errorf("key %s missing or not UINT32", k))
		}
		return int(x)
	}
	fl := func(k string) (float64, bool) {
		v, ok := f.Get(k)
		x, ok2 := v.(float32)
		if ok && !ok2 {
			errs = append(errs, fmt.Errorf("key %s is not FLOAT32", k))
		}
		return shortest(x), ok && ok2
	}
	b := func(k string) bool {
		v, ok := f.Get(k)
		x, ok2 := v.(bool)
		if ok && !ok2 {
			errs = append(errs, fmt.Errorf("key %s is not BOOL", k))
		}
		return x
	}
	arch, _ := f.Get(KeyArchitecture)
	if arch != Arch {
		return reference.Config{}, fmt.Errorf("%s %v: want %s (files of the community phi4flash conversions use other conventions and are refused)", KeyArchitecture, arch, Arch)
	}
	c := reference.Config{
		NLayer: u(KeyBlockCount), NEmbd: u(KeyEmbeddingLength), NHead: u(KeyHeadCount),
		NKVHead: u(KeyHeadCountKV), HeadDim: u(KeyKeyLength),
		Intermediate: u(KeyFFNLength), VocabSize: u(KeyVocabSize),
		Window: u(KeySlidingWindow), DState: u(KeyStateSize), DConv: u(KeyConvKernel),
		DtRank: u(KeyTimeStepRank), MaxPosition: u(KeyContextLength),
		DiffAttn: b(KeyDiffAttn), DAConstLamb: b(KeyDiffLambdaConst),
	}
	if c.NEmbd > 0 {
		c.Expand = u(KeyInnerSize) / c.NEmbd
	}
	if eps, ok := fl(KeyLayerNormEps); ok {
		c.Norm, c.NormEps = reference.LayerNorm, eps
	} else if eps, ok := fl(KeyRMSNormEps); ok {
		c.Norm, c.NormEps = reference.RMSNorm, eps
	} else {
		errs = append(errs, fmt.Errorf("neither %s nor %s", KeyLayerNormEps, KeyRMSNormEps))
	}
	c.AttnScale, _ = fl(KeyAttnScale)
	c.LogitScale, _ = fl(KeyLogitScale)
	if rs, _ := fl(KeyResidualScale); rs != 1 {
		c.DepthScale = true
	}
	_, c.GMU = f.Get(KeyMemoryLayer)
	// What the metadata does not say, the tensor set does (docs/GGUF.md §Tensors).
	_, hasOut := f.Tensor(Name(&c, "head", -1))
	c.Tied = !hasOut
	_, c.QKVBias = f.Tensor(Name(&c, "self.qkv.bias", 1))
	_, c.AttnOutBias = f.Tensor(Name(&c, "attn.out_proj.bias", 1))
	_, c.MLPBias = f.Tensor(Name(&c, "mlp.fc1.bias", 0))
	// The scale was written as float32; recover the exact default when it is one.
	if math.Abs(c.AttnScale-c.DefaultAttnScale()) < 1e-7 {
		c.AttnScale = c.DefaultAttnScale()
	}
	if len(errs) > 0 {
		return c, errors.Join(errs...)
	}
	if v, ok := f.Get(KeyLayerTypes); ok {
		a, ok := v.(gguf.Array)
		if !ok || len(a.Values) != c.NLayer {
			return c, fmt.Errorf("%s is not a UINT32 array of %d", KeyLayerTypes, c.NLayer)
		}
		for i, x := range a.Values {
			if x != layerTypeCode[c.Role(i)] {
				return c, fmt.Errorf("%s[%d] = %v disagrees with the SambaY layout (%v)", KeyLayerTypes, i, x, c.Role(i))
			}
		}
	}
	if v, ok := f.Get(KeyKVLayer); ok && v != uint32(c.KVLayer()) {
		return c, fmt.Errorf("%s = %v, the layout puts it at %d", KeyKVLayer, v, c.KVLayer())
	}
	return c, c.Validate()
}

// shortest returns the float64 of the shortest decimal that rounds to x:
// the schema stores epsilons and scales as FLOAT32, and a config's 1e-5
// comes back as 1e-5, not as 9.99999975e-06.
func shortest(x float32) float64 {
	v, err := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
	if err != nil {
		return float64(x)
	}
	return v
}
