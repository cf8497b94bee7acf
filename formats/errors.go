package formats

import (
	"errors"
	"fmt"
)

// Sentinel errors that every FormatError wraps, so callers can tell broken
// input (ErrFormat) from valid input that this tool does not handle
// (ErrUnsupported).
var (
	ErrFormat      = errors.New("invalid format")
	ErrUnsupported = errors.New("unsupported")
)

// A FormatError reports where a file breaks its format and what was expected.
type FormatError struct {
	File   string // path as given by the caller
	Tensor string // tensor concerned, or ""
	Offset int64  // byte offset of the offending field, or -1
	Msg    string // found vs expected: "data_offsets end 4096 > data size 2048"
	Err    error  // ErrFormat, ErrUnsupported or a more specific sentinel wrapping one of them
}

func (e *FormatError) Error() string {
	s := e.File
	if e.Tensor != "" {
		s += ": tensor " + e.Tensor
	}
	if e.Offset >= 0 {
		s += fmt.Sprintf(" (offset %d)", e.Offset)
	}
	return s + ": " + e.Msg
}

func (e *FormatError) Unwrap() error { return e.Err }

// Errorf returns a *FormatError wrapping kind.
func Errorf(kind error, file, tensor string, offset int64, format string, args ...any) error {
	return &FormatError{File: file, Tensor: tensor, Offset: offset, Msg: fmt.Sprintf(format, args...), Err: kind}
}
