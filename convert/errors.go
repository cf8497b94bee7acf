package convert

import (
	"errors"
	"strings"
)

// ErrConfig reports a configuration that cannot be decided or is invalid.
var ErrConfig = errors.New("config")

// ErrValidation reports a checkpoint that does not match its configuration.
var ErrValidation = errors.New("validation")

type multiError []error

func (m multiError) Error() string {
	var sb strings.Builder
	for i, e := range m {
		if i > 0 {
			sb.WriteString("\n  ")
		}
		sb.WriteString(e.Error())
	}
	return sb.String()
}

func (m multiError) Unwrap() []error { return m }

func joinErrs(errs []error) error {
	if len(errs) == 1 {
		return errs[0]
	}
	return multiError(errs)
}
