// Package mlxmodel is the SambaY MLX layout (docs/MLX.md): Export writes an
// affine-quantized folder as MLX's CPU kernel would (bits 2–8, groups of
// 32, 64 or 128, mlx-lm's mixed_4_6 recipe), and Load reads one back for the
// forward pass, dequantizing rows inside the kernels. Tensor names,
// quantizable modules and the conv1d layout come from package layout.
//
// A config.json that is not JSON, a module whose scales, biases or packed
// weight disagree in shape or dtype, and bits or group sizes MLX does not
// have are errors that name the module.
package mlxmodel
