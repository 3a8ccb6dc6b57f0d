package gitops

// Runs deploy/argocd/mcpsync.dev/<Kind>/health.lua as Argo CD does
// (argo-cd util/lua/lua.go: VM.runLua and VM.ExecuteHealthLua): a fresh gopher-lua state
// with only the package, base and table libraries, the object as the global `obj`
// (maps to tables, arrays to 1-based tables, numbers to Lua numbers), a one-second
// deadline, and the table the script returns read as {status, message}.

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

const argoDir = "../../deploy/argocd/mcpsync.dev"

// Argo CD's health status codes; anything else it reports as Unknown.
var argoStatuses = map[string]bool{
	"Healthy": true, "Progressing": true, "Degraded": true,
	"Suspended": true, "Missing": true, "Unknown": true,
}

type argoHealth struct {
	status, message string
}

func runArgoHealth(script string, obj *unstructured.Unstructured) (argoHealth, error) {
	l := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer l.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
	} {
		if err := l.CallByParam(lua.P{Fn: l.NewFunction(lib.open), NRet: 0, Protect: true}, lua.LString(lib.name)); err != nil {
			return argoHealth{}, err
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.SetContext(ctx)
	l.SetGlobal("obj", toLua(l, obj.Object))
	if err := l.DoString(script); err != nil {
		return argoHealth{}, err
	}
	result, ok := l.Get(-1).(*lua.LTable)
	if !ok {
		return argoHealth{}, fmt.Errorf("expected a table from the script, got %s", l.Get(-1).Type())
	}
	status, _ := result.RawGetString("status").(lua.LString)
	message, _ := result.RawGetString("message").(lua.LString)
	if !argoStatuses[string(status)] {
		// What Argo CD does with an invalid status.
		return argoHealth{status: "Unknown", message: "Lua returned an invalid health status"}, nil
	}
	return argoHealth{status: string(status), message: string(message)}, nil
}

// toLua converts an unstructured value as Argo CD's decodeValue does.
func toLua(l *lua.LState, value any) lua.LValue {
	switch v := value.(type) {
	case bool:
		return lua.LBool(v)
	case string:
		return lua.LString(v)
	case int64:
		return lua.LNumber(v)
	case int:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	case []any:
		arr := l.CreateTable(len(v), 0)
		for _, item := range v {
			arr.Append(toLua(l, item))
		}
		return arr
	case map[string]any:
		tbl := l.CreateTable(0, len(v))
		for key, item := range v {
			tbl.RawSetString(key, toLua(l, item))
		}
		return tbl
	}
	return lua.LNil
}

func readScript(t *testing.T, kind string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(argoDir, kind, "health.lua"))
	if err != nil {
		t.Fatalf("read the %s health check: %v", kind, err)
	}
	return string(b)
}

func TestArgoCDHealth(t *testing.T) {
	scripts := map[string]string{}
	for _, f := range fixtures() {
		t.Run(f.String(), func(t *testing.T) {
			script, ok := scripts[f.kind]
			if !ok {
				script = readScript(t, f.kind)
				scripts[f.kind] = script
			}
			got, err := runArgoHealth(script, f.object(t))
			if err != nil {
				t.Fatalf("the script failed: %v", err)
			}
			t.Logf("%s: %s", got.status, got.message)
			if got.status != f.argo {
				t.Errorf("status %s, want %s (message %q)", got.status, f.argo, got.message)
			}
			checkMessage(t, f, got.message)
		})
	}
}
