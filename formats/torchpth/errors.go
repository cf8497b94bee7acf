package torchpth

import (
	"fmt"

	"github.com/sambay-conv/sambay-conv/formats"
)

// Error kinds. Each wraps formats.ErrFormat (broken input) or
// formats.ErrUnsupported (valid input this reader does not handle), so
// errors.Is works with either the specific kind or the general one.
var (
	ErrNotTorchZip        = fmt.Errorf("not a torch.save zip: %w", formats.ErrFormat)
	ErrCorrupt            = fmt.Errorf("corrupt torch.save file: %w", formats.ErrFormat)
	ErrPickle             = fmt.Errorf("bad pickle: %w", formats.ErrFormat)
	ErrForbiddenGlobal    = fmt.Errorf("forbidden global: %w", formats.ErrFormat)
	ErrLimit              = fmt.Errorf("resource limit exceeded: %w", formats.ErrFormat)
	ErrNoStateDict        = fmt.Errorf("no state dict: %w", formats.ErrFormat)
	ErrUnsupportedFormat  = fmt.Errorf("unsupported serialization format: %w", formats.ErrUnsupported)
	ErrUnsupportedDtype   = fmt.Errorf("unsupported dtype: %w", formats.ErrUnsupported)
	ErrUnsupportedFeature = fmt.Errorf("unsupported feature: %w", formats.ErrUnsupported)
)
