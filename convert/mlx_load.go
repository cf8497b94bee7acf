package convert

import (
	"fmt"

	"github.com/sambay-conv/sambay-conv/reference"
)

func loadMLX(path string, opts reference.Options) (*LoadedModel, error) {
	return nil, fmt.Errorf("%s: MLX models are not supported yet", path)
}
