// Package interop checks sambay-conv's output with independent
// implementations. It is its own module so that their dependencies stay out
// of the tool's go.mod; CI runs its tests with `cd interop && go test ./...`.
package interop
