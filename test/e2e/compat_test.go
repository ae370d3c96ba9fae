package e2e

import (
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"testing"
)

// TestCompatibilityPageMatchesTheTests keeps docs/compatibility.md honest: every test it names
// exists, and every end-to-end test is named there.
func TestCompatibilityPageMatchesTheTests(t *testing.T) {
	page, err := os.ReadFile("../../docs/compatibility.md")
	if err != nil {
		t.Fatal(err)
	}
	named := map[string]bool{}
	for _, m := range regexp.MustCompile("`(Test[A-Za-z0-9_]+)`").FindAllStringSubmatch(string(page), -1) {
		named[m[1]] = true
	}
	files, _ := filepath.Glob("*_test.go")
	defined := map[string]bool{}
	decl := regexp.MustCompile(`(?m)^func (Test[A-Za-z0-9_]+)\(t \*testing\.T\)`)
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range decl.FindAllStringSubmatch(string(src), -1) {
			defined[m[1]] = true
		}
	}
	var missing, stale []string
	for name := range defined {
		if !named[name] && name != "TestCompatibilityPageMatchesTheTests" {
			missing = append(missing, name)
		}
	}
	for name := range named {
		if !defined[name] && name != "TestCompatibilityPageMatchesTheTests" {
			stale = append(stale, name)
		}
	}
	sort.Strings(missing)
	sort.Strings(stale)
	if len(missing) > 0 {
		t.Errorf("docs/compatibility.md does not mention these e2e tests: %v", missing)
	}
	if len(stale) > 0 {
		t.Errorf("docs/compatibility.md names tests that do not exist: %v", stale)
	}
}
