package gitops

// docs/gitops.md inlines the Lua and the healthCheckExprs for copy and paste; they must
// be the files in deploy/ that the other tests evaluate.

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/apis/kustomize"
	"sigs.k8s.io/yaml"
)

const docsPage = "../../docs/gitops.md"

var yamlBlock = regexp.MustCompile("(?s)```yaml\n(.*?)```")

// docBlock returns the first ```yaml block of the page holding `marker`, decoded.
func docBlock(t *testing.T, marker string, into any) {
	t.Helper()
	page, err := os.ReadFile(docsPage)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range yamlBlock.FindAllStringSubmatch(string(page), -1) {
		if strings.Contains(m[1], marker) {
			if err := yaml.Unmarshal([]byte(m[1]), into); err != nil {
				t.Fatalf("%s: the block with %q is not valid YAML: %v", docsPage, marker, err)
			}
			return
		}
	}
	t.Fatalf("%s has no yaml block with %q", docsPage, marker)
}

func TestDocsArgoCDConfigMapIsTheScripts(t *testing.T) {
	var cm struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Metadata   map[string]any    `json:"metadata"`
		Data       map[string]string `json:"data"`
	}
	docBlock(t, "name: argocd-cm", &cm)
	kinds := []string{"McpServer", "McpRegistry", "ClusterMcpRegistry"}
	if len(cm.Data) != len(kinds) {
		t.Errorf("argocd-cm snippet has %d keys, want %d", len(cm.Data), len(kinds))
	}
	for _, kind := range kinds {
		key := "resource.customizations.health.mcpsync.dev_" + kind
		file, err := os.ReadFile(filepath.Join(argoDir, kind, "health.lua"))
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(cm.Data[key]) != strings.TrimSpace(string(file)) {
			t.Errorf("%s: %s differs from deploy/argocd/mcpsync.dev/%s/health.lua", docsPage, key, kind)
		}
	}
}

func TestDocsFluxKustomizationIsTheExprs(t *testing.T) {
	var ks struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			Wait             bool                          `json:"wait"`
			HealthCheckExprs []kustomize.CustomHealthCheck `json:"healthCheckExprs"`
		} `json:"spec"`
	}
	docBlock(t, "kind: Kustomization", &ks)
	b, err := os.ReadFile(fluxExprs)
	if err != nil {
		t.Fatal(err)
	}
	var file []kustomize.CustomHealthCheck
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	if !ks.Spec.Wait {
		t.Errorf("%s: the Kustomization snippet does not set wait: true", docsPage)
	}
	if !reflect.DeepEqual(ks.Spec.HealthCheckExprs, file) {
		t.Errorf("%s: the Kustomization's healthCheckExprs differ from deploy/flux/health-check-exprs.yaml", docsPage)
	}
}
