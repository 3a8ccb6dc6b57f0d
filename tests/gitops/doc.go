// Package gitops tests the Argo CD and Flux health checks in deploy/ with the real
// evaluators (gopher-lua, Flux's runtime/cel). See docs/gitops.md.
package gitops
