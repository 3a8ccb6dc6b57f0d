package gitops

// Evaluates deploy/flux/health-check-exprs.yaml with Flux's own evaluator, as
// kustomize-controller does for spec.healthCheckExprs: runtime/cel.NewStatusReader
// builds a kstatus StatusReader from the list, and ReadStatusForObject computes the
// status (observedGeneration first, then inProgress, failed, current; InProgress when
// none holds; Unknown with an error when an expression cannot be evaluated).

import (
	"context"
	"os"
	"testing"

	"github.com/fluxcd/cli-utils/pkg/kstatus/polling/engine"
	"github.com/fluxcd/pkg/apis/kustomize"
	"github.com/fluxcd/pkg/runtime/cel"
	"k8s.io/apimachinery/pkg/runtime/schema"
	kjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

const fluxExprs = "../../deploy/flux/health-check-exprs.yaml"

func fluxReader(t *testing.T) engine.StatusReader {
	t.Helper()
	b, err := os.ReadFile(fluxExprs)
	if err != nil {
		t.Fatal(err)
	}
	// Decoded as the API server decodes a Kustomization: field names are case-sensitive,
	// and an unknown field (a misspelt inProgress) is an error here rather than dropped.
	js, err := yaml.YAMLToJSON(b)
	if err != nil {
		t.Fatalf("%s is not YAML: %v", fluxExprs, err)
	}
	var checks []kustomize.CustomHealthCheck
	strict, err := kjson.UnmarshalStrict(js, &checks, kjson.DisallowUnknownFields)
	if err != nil || len(strict) > 0 {
		t.Fatalf("%s is not a healthCheckExprs list: %v %v", fluxExprs, err, strict)
	}
	newReader, err := cel.NewStatusReader(checks)
	if err != nil {
		t.Fatalf("Flux refuses %s: %v", fluxExprs, err)
	}
	// The mapper is only used to look objects up by name; ReadStatusForObject gets the object.
	return newReader(nil)
}

func TestFluxHealthCheckExprs(t *testing.T) {
	reader := fluxReader(t)
	for _, kind := range []string{"McpServer", "McpRegistry", "ClusterMcpRegistry"} {
		if !reader.Supports(schema.GroupKind{Group: "mcpsync.dev", Kind: kind}) {
			t.Errorf("%s has no health check in %s", kind, fluxExprs)
		}
	}
	for _, f := range fixtures() {
		t.Run(f.String(), func(t *testing.T) {
			got, err := reader.ReadStatusForObject(context.Background(), nil, f.object(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%s (error: %v)", got.Status, got.Error)
			if string(got.Status) != f.flux {
				t.Errorf("status %s, want %s (error: %v)", got.Status, f.flux, got.Error)
			}
			// Only an object without status may fail to evaluate.
			if got.Error != nil && f.flux != fluxUnknown {
				t.Errorf("evaluation failed: %v", got.Error)
			}
			if f.flux == fluxUnknown && got.Error == nil {
				t.Errorf("expected an evaluation error, got none")
			}
		})
	}
}
