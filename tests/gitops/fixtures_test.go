package gitops

// The one table of objects both evaluators are tested against, with the verdict each
// should give. The objects carry the status mcpsync writes (src/engine/status.rs for
// McpServer, src/controller/registry.rs for the registries).

import (
	"fmt"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"
)

// secret is planted in every object (a literal header value and the last-applied
// annotation) to prove that no health message repeats what the spec holds.
const secret = "SENTINEL-s3cr3t-T0KEN"

// Flux verdicts (kstatus). Unknown is what Flux's status reader reports when an
// expression fails to evaluate (no status at all); Flux keeps polling, as for InProgress.
const (
	fluxCurrent    = "Current"
	fluxInProgress = "InProgress"
	fluxFailed     = "Failed"
	fluxUnknown    = "Unknown"
)

type fixture struct {
	name string
	kind string
	// generation of the object; observedGeneration is in status.
	generation int
	suspend    bool
	// status as YAML; "" means the object has no status at all.
	status string
	argo   string // Argo CD health status
	// argoMessage must appear in the Argo CD message (it comes from a condition).
	argoMessage string
	flux        string
}

// cond renders one condition as mcpsync writes it.
func cond(typ, status, reason, message string, generation int) string {
	return fmt.Sprintf(`
  - type: %s
    status: "%s"
    reason: %s
    message: %q
    observedGeneration: %d
    lastTransitionTime: "2026-11-22T10:00:00Z"`, typ, status, reason, message, generation)
}

func serverStatus(observed int, conds ...string) string {
	return fmt.Sprintf(`observedGeneration: %d
externalId: 7f0c2b
availability: Available
conditions:%s`, observed, strings.Join(conds, ""))
}

// stalledServer: an error retrying cannot fix (engine/status.rs Conds::stalled).
func stalledServer(reason, message string) string {
	return serverStatus(3,
		cond("Ready", "False", reason, message, 3),
		cond("Synced", "False", reason, message, 3),
		cond("Reconciling", "False", reason, "", 3),
		cond("Stalled", "True", reason, message, 3))
}

// transientServer: in progress or retrying (engine/status.rs Conds::not_synced, reconciling).
func transientServer(reason, message string) string {
	return serverStatus(3,
		cond("Ready", "False", reason, message, 3),
		cond("Synced", "False", reason, message, 3),
		cond("Reconciling", "True", reason, "", 3),
		cond("Stalled", "False", "Idle", "", 3))
}

// idleNotReadyServer: not ready, nothing in progress, nothing stalled.
func idleNotReadyServer(readyReason, message string, synced bool) string {
	syncedCond := cond("Synced", "True", "Synced", "the remote record equals the spec", 3)
	if !synced {
		syncedCond = cond("Synced", "False", readyReason, message, 3)
	}
	return serverStatus(3,
		cond("Ready", "False", readyReason, message, 3),
		syncedCond,
		cond("Reconciling", "False", "Idle", "", 3),
		cond("Stalled", "False", "Idle", "", 3))
}

func readyServer(observed int, reason string) string {
	return serverStatus(observed,
		cond("Ready", "True", reason, "", observed),
		cond("Synced", "True", "Synced", "the remote record equals the spec", observed),
		cond("Reconciling", "False", "Idle", "", observed),
		cond("Stalled", "False", "Idle", "", observed))
}

func registryStatus(observed int, ready, reason, message string) string {
	return fmt.Sprintf(`observedGeneration: %d
provider: composio
lastCheckedTime: "2026-11-22T10:00:00Z"
conditions:%s`, observed, cond("Ready", ready, reason, message, observed))
}

func fixtures() []fixture {
	const suspendedMsg = "spec.suspend is true: no remote calls"
	table := []fixture{
		{name: "ready, available", kind: "McpServer", generation: 3, status: readyServer(3, "Available"),
			argo: "Healthy", argoMessage: "Available: the remote record equals the spec", flux: fluxCurrent},
		{name: "ready, availability pending", kind: "McpServer", generation: 3, status: readyServer(3, "Pending"),
			argo: "Healthy", argoMessage: "Pending", flux: fluxCurrent},
		{name: "no status yet", kind: "McpServer", generation: 1, status: "",
			argo: "Progressing", argoMessage: "Waiting for mcpsync", flux: fluxUnknown},
		{name: "empty status", kind: "McpServer", generation: 1, status: "{}",
			argo: "Progressing", argoMessage: "Waiting for mcpsync", flux: fluxInProgress},
		{name: "empty conditions", kind: "McpServer", generation: 1, status: "observedGeneration: 1\nconditions: []",
			argo: "Progressing", argoMessage: "Waiting for mcpsync", flux: fluxInProgress},
		{name: "generation behind", kind: "McpServer", generation: 4, status: readyServer(3, "Available"),
			argo: "Progressing", argoMessage: "generation 4", flux: fluxInProgress},
		{name: "creating", kind: "McpServer", generation: 3,
			status: transientServer("Creating", "the record does not exist yet; a create is pending"),
			argo:   "Progressing", argoMessage: "Creating: the record does not exist yet", flux: fluxInProgress},
		{name: "updating", kind: "McpServer", generation: 3,
			status: transientServer("Updating", "changes are pending for url, description"),
			argo:   "Progressing", argoMessage: "Updating: changes are pending for url", flux: fluxInProgress},
		{name: "rate limited", kind: "McpServer", generation: 3,
			status: transientServer("RateLimited", "composio answered 429; retrying after 30s"),
			argo:   "Progressing", argoMessage: "RateLimited: composio answered 429", flux: fluxInProgress},
		{name: "registry unreachable", kind: "McpServer", generation: 3,
			status: transientServer("RegistryUnreachable", "GET https://backend.composio.dev/api/v3/mcp/servers/7f0c2b timed out after 30s"),
			argo:   "Progressing", argoMessage: "RegistryUnreachable: GET", flux: fluxInProgress},
		{name: "remote record gone, recreating", kind: "McpServer", generation: 3,
			status: transientServer("RemoteNotFound", "the record 7f0c2b is gone (404); it is created again"),
			argo:   "Progressing", argoMessage: "RemoteNotFound", flux: fluxInProgress},
		{name: "stalled: unauthorized", kind: "McpServer", generation: 3,
			status: stalledServer("Unauthorized", "composio refused the credentials (401); check Secret mcpsync-system/composio-api key api-key"),
			argo:   "Degraded", argoMessage: "Unauthorized: composio refused the credentials", flux: fluxFailed},
		{name: "stalled: conflict", kind: "McpServer", generation: 3,
			status: stalledServer("Conflict", "a record named \"GitHub\" already exists (409)"),
			argo:   "Degraded", argoMessage: "Conflict: a record named", flux: fluxFailed},
		{name: "stalled: invalid spec", kind: "McpServer", generation: 3,
			status: stalledServer("InvalidSpec", "spec.displayName: composio allows at most 64 characters"),
			argo:   "Degraded", argoMessage: "InvalidSpec: spec.displayName", flux: fluxFailed},
		{name: "stalled: secret not found", kind: "McpServer", generation: 3,
			status: stalledServer("SecretNotFound", "Secret team-a/github-token has no key header (spec.headers[1])"),
			argo:   "Degraded", argoMessage: "SecretNotFound: Secret team-a/github-token", flux: fluxFailed},
		{name: "stalled: unsupported field", kind: "McpServer", generation: 3,
			status: stalledServer("UnsupportedField", "spec.toolkits is not supported by provider pais"),
			argo:   "Degraded", argoMessage: "UnsupportedField: spec.toolkits", flux: fluxFailed},
		{name: "stalled: remote rejected", kind: "McpServer", generation: 3,
			status: stalledServer("RemoteRejected", "composio refused the values (422): url must use https"),
			argo:   "Degraded", argoMessage: "RemoteRejected", flux: fluxFailed},
		{name: "stalled: registry not ready", kind: "McpServer", generation: 3,
			status: stalledServer("RegistryNotReady", "ClusterMcpRegistry composio-prod is not ready (Unauthorized): credentials refused"),
			argo:   "Degraded", argoMessage: "RegistryNotReady: ClusterMcpRegistry composio-prod", flux: fluxFailed},
		{name: "unavailable", kind: "McpServer", generation: 3,
			status: idleNotReadyServer("Unavailable", "the registry reports the server unavailable: connection refused", true),
			argo:   "Degraded", argoMessage: "Unavailable: the registry reports", flux: fluxFailed},
		{name: "ObserveOnly, drifted", kind: "McpServer", generation: 3,
			status: idleNotReadyServer("Drifted", "ObserveOnly: the record differs in url", false),
			argo:   "Degraded", argoMessage: "Drifted: ObserveOnly", flux: fluxFailed},
		{name: "ObserveOnly, record missing", kind: "McpServer", generation: 3,
			status: idleNotReadyServer("RemoteNotFound", "the remote record is gone; ObserveOnly does not recreate it", false),
			argo:   "Degraded", argoMessage: "RemoteNotFound: the remote record is gone", flux: fluxFailed},
		// Suspended: Argo CD reads spec.suspend; Flux has no suspended state and no rule
		// for it, so the last Ready condition decides (Reconciling and Stalled are False).
		{name: "suspended, was ready", kind: "McpServer", generation: 3, suspend: true,
			status: serverStatus(3,
				cond("Ready", "True", "Available", "", 2),
				cond("Synced", "True", "Synced", "the remote record equals the spec", 2),
				cond("Reconciling", "False", "Suspended", suspendedMsg, 3),
				cond("Stalled", "False", "Suspended", "", 3)),
			argo: "Suspended", argoMessage: "spec.suspend is true", flux: fluxCurrent},
		{name: "suspended before the first sync", kind: "McpServer", generation: 1, suspend: true,
			status: serverStatus(1,
				cond("Reconciling", "False", "Suspended", suspendedMsg, 1),
				cond("Stalled", "False", "Suspended", "", 1)),
			argo: "Suspended", argoMessage: "spec.suspend is true", flux: fluxInProgress},
		{name: "suspended while unauthorized", kind: "McpServer", generation: 4, suspend: true,
			status: serverStatus(4,
				cond("Ready", "False", "Unauthorized", "composio refused the credentials (401)", 3),
				cond("Synced", "False", "Unauthorized", "composio refused the credentials (401)", 3),
				cond("Reconciling", "False", "Suspended", suspendedMsg, 4),
				cond("Stalled", "False", "Suspended", "", 4)),
			argo: "Suspended", argoMessage: "spec.suspend is true", flux: fluxFailed},
		{name: "suspend not yet observed", kind: "McpServer", generation: 4, suspend: true, status: readyServer(3, "Available"),
			argo: "Suspended", argoMessage: "spec.suspend is true", flux: fluxInProgress},
	}
	for _, kind := range []string{"McpRegistry", "ClusterMcpRegistry"} {
		table = append(table,
			fixture{name: "valid", kind: kind, generation: 2, status: registryStatus(2, "True", "Valid", "credentials accepted"),
				argo: "Healthy", argoMessage: "Valid: credentials accepted", flux: fluxCurrent},
			fixture{name: "no status yet", kind: kind, generation: 1, status: "",
				argo: "Progressing", argoMessage: "Waiting for mcpsync", flux: fluxUnknown},
			fixture{name: "empty conditions", kind: kind, generation: 1, status: "observedGeneration: 1\nconditions: []",
				argo: "Progressing", argoMessage: "Waiting for mcpsync", flux: fluxInProgress},
			fixture{name: "generation behind", kind: kind, generation: 3, status: registryStatus(2, "True", "Valid", "credentials accepted"),
				argo: "Progressing", argoMessage: "generation 3", flux: fluxInProgress},
			fixture{name: "unauthorized", kind: kind, generation: 2,
				status: registryStatus(2, "False", "Unauthorized", "composio refused the credentials (401) from Secret mcpsync-system/composio-api key api-key"),
				argo:   "Degraded", argoMessage: "Unauthorized: composio refused the credentials", flux: fluxFailed},
			fixture{name: "invalid spec", kind: kind, generation: 2,
				status: registryStatus(2, "False", "InvalidSpec", "spec.baseUrl: http:// needs allowInsecureHttp: true"),
				argo:   "Degraded", argoMessage: "InvalidSpec: spec.baseUrl", flux: fluxFailed},
			fixture{name: "secret not found", kind: kind, generation: 2,
				status: registryStatus(2, "False", "SecretNotFound", "Secret mcpsync-system/composio-api not found"),
				argo:   "Degraded", argoMessage: "SecretNotFound: Secret mcpsync-system/composio-api", flux: fluxFailed},
			fixture{name: "unreachable, retrying", kind: kind, generation: 2,
				status: registryStatus(2, "False", "Unreachable", "GET https://backend.composio.dev/api/v3/mcp/servers timed out after 30s"),
				argo:   "Progressing", argoMessage: "Unreachable: GET", flux: fluxInProgress},
		)
	}
	return table
}

func (f fixture) String() string { return f.kind + "/" + f.name }

// object builds the fixture as the API server would return it: an unstructured object
// whose integers are int64 (what both Argo CD and Flux read from the cluster).
func (f fixture) object(t *testing.T) *unstructured.Unstructured {
	t.Helper()
	var spec, namespace string
	switch f.kind {
	case "McpServer":
		namespace = "\n  namespace: team-a"
		spec = fmt.Sprintf(`registryRef: {kind: ClusterMcpRegistry, name: composio-prod}
  url: https://github-mcp.example.com
  headers:
  - {name: Authorization, value: "Bearer %s"}
  suspend: %t`, secret, f.suspend)
	case "McpRegistry":
		namespace = "\n  namespace: team-a"
		spec = "provider:\n    composio:\n      apiKeySecretRef: {name: composio-api, key: api-key}"
	case "ClusterMcpRegistry":
		spec = "provider:\n    composio:\n      apiKeySecretRef: {name: composio-api, key: api-key, namespace: mcpsync-system}"
	default:
		t.Fatalf("unknown kind %q", f.kind)
	}
	doc := fmt.Sprintf(`apiVersion: mcpsync.dev/v1alpha1
kind: %s
metadata:
  name: example%s
  generation: %d
  annotations:
    kubectl.kubernetes.io/last-applied-configuration: '{"spec":{"token":"%s"}}'
spec:
  %s
`, f.kind, namespace, f.generation, secret, spec)
	if f.status != "" {
		doc += "status:\n" + indent(f.status, "  ") + "\n"
	}
	js, err := yaml.YAMLToJSON([]byte(doc))
	if err != nil {
		t.Fatalf("%s: fixture is not YAML: %v\n%s", f, err, doc)
	}
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(js); err != nil {
		t.Fatalf("%s: fixture is not an object: %v", f, err)
	}
	return u
}

func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimPrefix(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n")
}

// checkMessage: a health message is present, comes from the object's conditions, and
// holds nothing the spec or annotations hold.
func checkMessage(t *testing.T, f fixture, message string) {
	t.Helper()
	if strings.TrimSpace(message) == "" {
		t.Errorf("%s: empty message", f)
	}
	if !strings.Contains(message, f.argoMessage) {
		t.Errorf("%s: message %q does not contain %q", f, message, f.argoMessage)
	}
	if strings.Contains(message, secret) || strings.Contains(message, "Bearer") {
		t.Errorf("%s: message %q repeats a secret value", f, message)
	}
}

// The table covers every kind, and every kind has each verdict the design promises.
func TestFixturesCoverTheContract(t *testing.T) {
	seen := map[string]map[string]bool{}
	names := map[string]bool{}
	for _, f := range fixtures() {
		if names[f.String()] {
			t.Errorf("duplicate fixture %s", f)
		}
		names[f.String()] = true
		if seen[f.kind] == nil {
			seen[f.kind] = map[string]bool{}
		}
		seen[f.kind]["argo:"+f.argo] = true
		seen[f.kind]["flux:"+f.flux] = true
		f.object(t)
	}
	want := map[string][]string{
		"McpServer":          {"argo:Healthy", "argo:Progressing", "argo:Degraded", "argo:Suspended", "flux:Current", "flux:InProgress", "flux:Failed"},
		"McpRegistry":        {"argo:Healthy", "argo:Progressing", "argo:Degraded", "flux:Current", "flux:InProgress", "flux:Failed"},
		"ClusterMcpRegistry": {"argo:Healthy", "argo:Progressing", "argo:Degraded", "flux:Current", "flux:InProgress", "flux:Failed"},
	}
	for kind, verdicts := range want {
		for _, v := range verdicts {
			if !seen[kind][v] {
				t.Errorf("no %s fixture expects %s", kind, v)
			}
		}
	}
}
