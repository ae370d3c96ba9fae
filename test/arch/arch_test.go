// Package arch keeps mint's layering (docs/architecture.md) in a test: it reads the package
// graph with `go list -json ./...` and checks each rule, so a forbidden import fails the build
// rather than waiting for a reviewer to notice.
package arch

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// pkg is one package of the module, its paths relative to the module ("internal/vault").
type pkg struct {
	Path    string
	Imports []string // direct imports of the module's own packages
	Deps    []string // every package of the module it depends on, transitively
	// External are the packages of other modules it depends on, transitively (full paths).
	External []string
	Name     string // the package clause
	Lines    int    // lines of its non-test Go files
}

// rule forbids the packages it applies to from depending on some others. forbids is asked
// about the module's own packages (relative paths); external, when set, about other modules'
// packages (full import paths).
type rule struct {
	name     string
	applies  func(path string) bool
	forbids  func(dep string) bool
	external func(dep string) bool
}

func none(string) bool { return false }

// leanAgent are the packages cmd/mint-agent is built from (besides the shared leaves).
var leanAgent = under("cmd/mint-agent", "internal/cli/agentcmd", "internal/cli/flagenv", "internal/cli/cpuprofile", "internal/nodeagent", "internal/agent",
	"internal/envfile", "internal/cabundle", "internal/proxy", "internal/nodewire")

// prometheusClient is the Prometheus client library and what it brings: the protobuf runtime,
// the data model, procfs. The lean agent writes its few metrics itself (internal/agent/promtext).
func prometheusClient(dep string) bool {
	return strings.HasPrefix(dep, "github.com/prometheus/") || strings.HasPrefix(dep, "google.golang.org/protobuf/")
}

func is(paths ...string) func(string) bool {
	return func(p string) bool { return slices.Contains(paths, p) }
}

// under matches the packages at or below any of roots.
func under(roots ...string) func(string) bool {
	return func(p string) bool {
		for _, r := range roots {
			if p == r || strings.HasPrefix(p, r+"/") {
				return true
			}
		}
		return false
	}
}

func anyPackage(string) bool { return true }

// serverSide are the server's packages: the store and its drivers, the STS, the control plane,
// the data planes and the assembly. Nothing a node runs links them.
var serverSide = under("internal/store", "internal/sts", "internal/arm", "internal/federation", "internal/authz", "internal/rbac",
	"internal/directory", "internal/server", "internal/nodes", "internal/vault", "internal/graph", "internal/keys", "internal/revocation")

// rules are mint's layering. Read them with docs/architecture.md, which draws the same layers.
var rules = []rule{
	{"the pure RBAC core imports no other mint package", is("internal/rbac"), anyPackage, nil},
	{"the store imports no mint package outside the store", under("internal/store"), func(d string) bool { return !under("internal/store")(d) }, nil},
	{"the shared vocabularies are leaves", is("internal/armid", "internal/nodewire", "internal/odata", "internal/jsonstr", "internal/jsonbody", "internal/cputime"), anyPackage, nil},
	{"the node agent imports none of the server's packages", under("internal/agent"), serverSide, nil},
	{"the lean agent binary (cmd/mint-agent) and its assembly import none of the server's packages",
		under("cmd/mint-agent", "internal/cli/agentcmd", "internal/cli/flagenv", "internal/cli/cpuprofile", "internal/nodeagent", "internal/envfile", "internal/cabundle", "internal/proxy", "internal/nodewire"), serverSide, nil},
	{"metrics does not import the store", is("internal/metrics"), serverSide, nil},
	{"the lean agent (cmd/mint-agent) links neither internal/metrics nor the Prometheus client and protobuf", leanAgent, is("internal/metrics"), prometheusClient},
	{"the lean agent (cmd/mint-agent) parses its flags with pflag, without cobra (internal/cli wraps it)", leanAgent, none,
		func(dep string) bool { return strings.HasPrefix(dep, "github.com/spf13/cobra") }},
	{"the vault and federation do not import the control plane's HTTP package", under("internal/vault", "internal/federation"), is("internal/arm"), nil},
	{"metrics imports no node-agent package", under("internal/metrics"), under("internal/agent"), nil},
	{"only the CLI and the tests import the assembly", func(p string) bool { return !under("internal/cli", "cmd", "test")(p) }, is("internal/server"), nil},
}

// maxMainLines bounds a command's main package: cmd/ only hands over to internal/cli.
const maxMainLines = 30

// violations lists every rule pkgs break.
func violations(pkgs []pkg) []string {
	var out []string
	for _, p := range pkgs {
		for _, r := range rules {
			if !r.applies(p.Path) {
				continue
			}
			for _, d := range p.Deps {
				if d != p.Path && r.forbids(d) {
					out = append(out, fmt.Sprintf("%s: %s depends on %s%s", r.name, p.Path, d, via(pkgs, p, d)))
				}
			}
			if r.external != nil {
				for _, d := range p.External {
					if r.external(d) {
						out = append(out, fmt.Sprintf("%s: %s depends on %s", r.name, p.Path, d))
						break // one line per package: the client brings dozens
					}
				}
			}
		}
		if under("cmd")(p.Path) {
			if p.Name != "main" || p.Lines > maxMainLines || len(p.Imports) > 1 {
				out = append(out, fmt.Sprintf("cmd/ contains only wiring: %s is package %s, %d lines (at most %d), imports %v (at most one mint package, the CLI)",
					p.Path, p.Name, p.Lines, maxMainLines, p.Imports))
			}
		}
	}
	return out
}

// via names the direct import through which p reaches dep, for the message.
func via(pkgs []pkg, p pkg, dep string) string {
	if slices.Contains(p.Imports, dep) {
		return ""
	}
	for _, i := range p.Imports {
		for _, q := range pkgs {
			if q.Path == i && slices.Contains(q.Deps, dep) {
				return " (through " + i + ")"
			}
		}
	}
	return ""
}

// load reads the module's package graph.
func load(t *testing.T) []pkg {
	t.Helper()
	cmd := exec.Command("go", "list", "-json", "./...")
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	type listed struct {
		ImportPath, Name, Dir string
		Module                *struct{ Path string }
		GoFiles, Imports      []string
		Deps                  []string
	}
	var pkgs []pkg
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var l listed
		if err := dec.Decode(&l); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		mod := l.Module.Path + "/"
		rel := func(in []string) []string {
			var r []string
			for _, s := range in {
				if strings.HasPrefix(s, mod) {
					r = append(r, strings.TrimPrefix(s, mod))
				}
			}
			return r
		}
		p := pkg{Path: strings.TrimPrefix(l.ImportPath, mod), Name: l.Name, Imports: rel(l.Imports), Deps: rel(l.Deps)}
		for _, d := range l.Deps {
			if first, _, _ := strings.Cut(d, "/"); strings.Contains(first, ".") && !strings.HasPrefix(d, mod) {
				p.External = append(p.External, d) // another module's (the standard library's have no dot)
			}
		}
		for _, f := range l.GoFiles {
			p.Lines += countLines(t, filepath.Join(l.Dir, f))
		}
		pkgs = append(pkgs, p)
	}
	return pkgs
}

func countLines(t *testing.T, path string) int {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	n := 0
	for s := bufio.NewScanner(f); s.Scan(); {
		n++
	}
	return n
}

func TestLayering(t *testing.T) {
	pkgs := load(t)
	if len(pkgs) < 20 || !slices.ContainsFunc(pkgs, func(p pkg) bool { return p.Path == "internal/agent" }) {
		t.Fatalf("go list found %d packages, not mint's", len(pkgs))
	}
	for _, v := range violations(pkgs) {
		t.Error(v)
	}
}

// TestRulesCatchForbiddenImports shows each rule failing on a package graph that breaks it, so
// the layering test cannot pass by checking nothing.
func TestRulesCatchForbiddenImports(t *testing.T) {
	ok := []pkg{
		{Path: "cmd/mint", Name: "main", Lines: 13, Imports: []string{"internal/cli"}, Deps: []string{"internal/cli", "internal/server", "internal/store"}},
		{Path: "internal/cli", Name: "cli", Imports: []string{"internal/server"}, Deps: []string{"internal/server", "internal/store"}},
		{Path: "internal/agent", Name: "agent", Imports: []string{"internal/nodewire"}, Deps: []string{"internal/nodewire"}},
		{Path: "internal/vault", Name: "vault", Imports: []string{"internal/authz"}, Deps: []string{"internal/authz", "internal/rbac", "internal/store"}},
		{Path: "internal/store/sqlite", Name: "sqlite", Imports: []string{"internal/store"}, Deps: []string{"internal/store"}},
		{Path: "internal/rbac", Name: "rbac"},
	}
	if v := violations(ok); len(v) != 0 {
		t.Fatalf("a graph that keeps the rules: %v", v)
	}
	for _, tc := range []struct {
		name string
		bad  pkg
		want string
	}{
		{"rbac imports the store", pkg{Path: "internal/rbac", Imports: []string{"internal/store"}, Deps: []string{"internal/store"}}, "pure RBAC core"},
		{"the store imports rbac", pkg{Path: "internal/store/postgres", Imports: []string{"internal/rbac"}, Deps: []string{"internal/store", "internal/rbac"}}, "store imports no mint package"},
		{"armid imports the store", pkg{Path: "internal/armid", Imports: []string{"internal/store"}, Deps: []string{"internal/store"}}, "vocabularies are leaves"},
		{"the agent imports sts", pkg{Path: "internal/agent/node", Imports: []string{"internal/sts"}, Deps: []string{"internal/sts"}}, "node agent"},
		{"the agent reaches the store indirectly", pkg{Path: "internal/agent", Imports: []string{"internal/nodewire"}, Deps: []string{"internal/nodewire", "internal/store"}}, "node agent"},
		{"the agent imports arm", pkg{Path: "internal/agent/dialect", Imports: []string{"internal/arm"}, Deps: []string{"internal/arm"}}, "node agent"},
		{"the lean agent's assembly imports the store", pkg{Path: "internal/nodeagent", Imports: []string{"internal/agent"}, Deps: []string{"internal/agent", "internal/store/sqlite"}}, "lean agent binary"},
		{"mint-agent's main reaches the server", pkg{Path: "cmd/mint-agent", Name: "main", Lines: 10, Imports: []string{"internal/cli/agentcmd"}, Deps: []string{"internal/cli/agentcmd", "internal/server"}}, "lean agent binary"},
		{"metrics imports the store", pkg{Path: "internal/metrics", Imports: []string{"internal/store"}, Deps: []string{"internal/store"}}, "metrics does not import the store"},
		{"the lean agent's assembly links internal/metrics", pkg{Path: "internal/nodeagent", Imports: []string{"internal/metrics"}, Deps: []string{"internal/metrics"}}, "links neither internal/metrics"},
		{"the agent links the Prometheus client", pkg{Path: "internal/agent/promtext", External: []string{"github.com/prometheus/client_golang/prometheus"}}, "Prometheus client"},
		{"the agent's command uses cobra", pkg{Path: "internal/cli/agentcmd", External: []string{"github.com/spf13/cobra"}}, "without cobra"},
		{"mint-agent links protobuf", pkg{Path: "cmd/mint-agent", Name: "main", Lines: 10, Imports: []string{"internal/cli/agentcmd"}, Deps: []string{"internal/cli/agentcmd"}, External: []string{"google.golang.org/protobuf/proto"}}, "Prometheus client and protobuf"},
		{"the vault imports arm", pkg{Path: "internal/vault", Imports: []string{"internal/arm"}, Deps: []string{"internal/arm"}}, "control plane's HTTP package"},
		{"federation imports arm", pkg{Path: "internal/federation", Imports: []string{"internal/arm"}, Deps: []string{"internal/arm"}}, "control plane's HTTP package"},
		{"metrics imports the dialects", pkg{Path: "internal/metrics", Imports: []string{"internal/agent/dialect"}, Deps: []string{"internal/agent/dialect"}}, "metrics"},
		{"the STS imports the assembly", pkg{Path: "internal/sts", Imports: []string{"internal/server"}, Deps: []string{"internal/server"}}, "assembly"},
		{"logic in cmd", pkg{Path: "cmd/mint", Name: "main", Lines: 200, Imports: []string{"internal/cli"}}, "cmd/ contains only wiring"},
		{"cmd wires packages itself", pkg{Path: "cmd/mint", Name: "main", Lines: 20, Imports: []string{"internal/cli", "internal/server"}}, "cmd/ contains only wiring"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			graph := append(slices.Clone(ok), tc.bad)
			v := violations(graph)
			if len(v) == 0 || !strings.Contains(strings.Join(v, "\n"), tc.want) {
				t.Fatalf("violations %v, want one about %q", v, tc.want)
			}
		})
	}
}
