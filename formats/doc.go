// Package formats holds what every checkpoint format shares: the element
// types (DType), the lazy Tensor view that readers hand out, exact float
// conversions (bfloat16 with round-to-nearest-even, IEEE half through
// x448/float16) and the error type all readers return.
//
// It knows bytes, never the model: it does not choose output types and does
// not know any tensor name. Conversions are bit-exact and are checked over
// every 16-bit input (bf16, f16) in the tests.
package formats
