package check

import (
	"regexp"
	"slices"
	"strings"
	"testing"
)

// readmeMaxWords is the README's length limit: about that of the longest in-tree plugin
// READMEs (forward's, kubernetes'); the rest belongs in docs/.
const readmeMaxWords = 2600

// TestReadmeShape: the README opens as an in-tree plugin's does, with its Name and the
// one-line description; `make run` and `make test` are in its first 40 lines and Install
// a few lines below; its sections come in CoreDNS's order; it has at most readmeMaxWords
// words (whitespace-separated, as wc -w counts them).
func TestReadmeShape(t *testing.T) {
	readme := readText(t, "README.md")
	lines := strings.Split(readme, "\n")
	if len(lines) < 5 || lines[0] != "# k8s_event" || lines[2] != "## Name" ||
		!regexp.MustCompile(`^\*k8s_event\* - \S.*\.$`).MatchString(lines[4]) {
		t.Errorf("README.md does not open with # k8s_event, ## Name and the one-line description (*k8s_event* - ...):\n%s", strings.Join(lines[:min(len(lines), 5)], "\n"))
	}
	first := strings.Join(lines[:min(len(lines), 40)], "\n")
	for _, cmd := range []string{"make run", "make test"} {
		if !strings.Contains(first, cmd) {
			t.Errorf("README.md: %s is not in the first 40 lines", cmd)
		}
	}
	if i := slices.Index(lines, "## Install"); i < 0 || i >= 30 {
		t.Errorf("README.md: ## Install is at line %d, want it within the first 30", i+1)
	}

	var sections []string
	for _, l := range lines {
		if name, ok := strings.CutPrefix(l, "## "); ok {
			sections = append(sections, name)
		}
	}
	order := []string{"Name", "Description", "Compilation", "Syntax", "Examples", "Metrics", "Bugs", "See Also"}
	var got []string
	for _, s := range sections {
		if slices.Contains(order, s) {
			got = append(got, s)
		}
	}
	if !slices.Equal(got, order) {
		t.Errorf("README.md's sections %q: want CoreDNS's %q among them, in that order", sections, order)
	}

	if n := len(strings.Fields(readme)); n > readmeMaxWords {
		t.Errorf("README.md has %d words, want at most %d: move details to docs/", n, readmeMaxWords)
	}
}
