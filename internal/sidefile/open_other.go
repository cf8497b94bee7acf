//go:build !unix

package sidefile

import "os"

func openNoBlock(path string) (*os.File, error) { return os.Open(path) }
