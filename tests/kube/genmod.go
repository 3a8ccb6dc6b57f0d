//go:build ignore

// genmod pins this module to one Kubernetes release: go run genmod.go v1.34.4
//
// k8s.io/kubernetes requires its ~31 staging modules (k8s.io/api, k8s.io/apiserver, ...) at
// v0.0.0 and replaces them with ./staging paths that exist only in its own repository. A
// module that depends on it must restate each of them as k8s.io/X => k8s.io/X v0.MINOR.PATCH.
// This reads that list from the release's own go.mod, never from a hand-written copy.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

type module struct{ Path, Version string }

type goMod struct {
	Replace []struct{ Old, New module }
}

func main() {
	if len(os.Args) != 2 || !strings.HasPrefix(os.Args[1], "v1.") {
		fail("usage: go run genmod.go v1.MINOR.PATCH")
	}
	version := os.Args[1]
	staging := "v0." + strings.TrimPrefix(version, "v1.")

	var download struct{ GoMod, Error string }
	decode(run("go", "mod", "download", "-json", "k8s.io/kubernetes@"+version), &download)
	if download.Error != "" {
		fail("download k8s.io/kubernetes@" + version + ": " + download.Error)
	}
	var upstream goMod
	decode(run("go", "mod", "edit", "-json", download.GoMod), &upstream)

	// Start from a clean slate so a version change leaves no stale line behind.
	var current goMod
	decode(run("go", "mod", "edit", "-json"), &current)
	args := []string{"mod", "edit"}
	for _, r := range current.Replace {
		args = append(args, "-dropreplace="+r.Old.Path)
	}
	args = append(args, "-require=k8s.io/kubernetes@"+version)
	count := 0
	for _, r := range upstream.Replace {
		if !strings.HasPrefix(r.New.Path, "./staging/") {
			// Not a staging module: keep the release's own replacement as it is.
			target := r.New.Path
			if r.New.Version != "" {
				target += "@" + r.New.Version
			}
			args = append(args, "-replace="+r.Old.Path+"="+target)
			continue
		}
		args = append(args, "-replace="+r.Old.Path+"="+r.Old.Path+"@"+staging)
		count++
	}
	if count == 0 {
		fail("k8s.io/kubernetes@" + version + " has no staging replacements: is this a release?")
	}
	run("go", args...)
	for _, tool := range []string{"cmd/kube-apiserver", "cmd/kubectl"} {
		run("go", "get", "-tool", "k8s.io/kubernetes/"+tool+"@"+version)
	}
	run("go", "mod", "tidy")
	fmt.Printf("go.mod pinned to k8s.io/kubernetes %s with %d staging modules at %s\n", version, count, staging)
}

func run(name string, args ...string) []byte {
	cmd := exec.Command(name, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		fail(fmt.Sprintf("%s %s: %v", name, strings.Join(args, " "), err))
	}
	return out
}

func decode(data []byte, into any) {
	if err := json.Unmarshal(data, into); err != nil {
		fail("decode go command output: " + err.Error())
	}
}

func fail(msg string) {
	fmt.Fprintln(os.Stderr, "genmod:", msg)
	os.Exit(1)
}
