package e2e

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"strconv"
	"strings"
	"testing"
	"time"
)

// badConfigTimeout bounds one run of CoreDNS on a bad Corefile.
const badConfigTimeout = 30 * time.Second

// badCorefile is a Corefile CoreDNS must refuse, and what its error must say.
type badCorefile struct {
	name     string
	corefile string
	want     string
}

// TestBadCorefile: CoreDNS refuses to start on every bad k8s_event block of the parser's
// unit tests (read from setup_test.go, so the two lists cannot drift apart), on k8s_event
// without kubeapi, and on server blocks that configure k8s_event differently; it exits
// non-zero naming plugin/k8s_event and the problem.
func TestBadCorefile(t *testing.T) {
	t.Parallel()
	requireSuite(t)
	cases := parserErrorCases(t)
	for i := range cases {
		cases[i].corefile = serverBlock(fmt.Sprintf(".:%d", freePort(t)), kubeapiDirective(), cases[i].corefile)
	}
	cases = append(cases,
		badCorefile{
			name:     "without kubeapi",
			corefile: serverBlock(fmt.Sprintf(".:%d", freePort(t)), "whoami", k8sEventDirective()),
			want:     "has k8s_event but no kubeapi",
		},
		badCorefile{
			name: "different settings in two server blocks",
			corefile: serverBlock(fmt.Sprintf("a.test.:%d", freePort(t)), "whoami", kubeapiDirective(), k8sEventDirective("level info")) +
				serverBlock(fmt.Sprintf("b.test.:%d", freePort(t)), "whoami", kubeapiDirective(), k8sEventDirective("level error")),
			want: "configure k8s_event differently",
		},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			code, out := runCoreDNSOnce(t, tc.corefile)
			if code == 0 {
				t.Errorf("CoreDNS exited 0, want non-zero")
			}
			if !strings.Contains(out, "plugin/k8s_event") || !strings.Contains(out, tc.want) {
				t.Errorf("output does not name plugin/k8s_event and %q", tc.want)
			}
			if t.Failed() {
				t.Logf("Corefile:\n%s\nexit code %d, output:\n%s", tc.corefile, code, out)
			}
		})
	}
}

// runCoreDNSOnce runs CoreDNS on corefile until it exits, which it must do within
// badConfigTimeout, and returns its exit code and output.
func runCoreDNSOnce(t *testing.T, corefile string) (int, string) {
	t.Helper()
	c := launchCoreDNS(t, corefile)
	code := c.waitExit(badConfigTimeout)
	return code, c.out.String()
}

// parserErrorCases reads the inputs and expected error substrings of TestParseErrors in
// the plugin's setup_test.go.
func parserErrorCases(t *testing.T) []badCorefile {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, parserTestFile(), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var cases []badCorefile
	ast.Inspect(f, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "TestParseErrors" {
			return true
		}
		ast.Inspect(fn.Body, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok || len(lit.Elts) != 3 {
				return true
			}
			var s [3]string
			for i, e := range lit.Elts {
				b, ok := e.(*ast.BasicLit)
				if !ok || b.Kind != token.STRING {
					return true
				}
				if s[i], err = strconv.Unquote(b.Value); err != nil {
					t.Fatalf("%s: %v", fset.Position(b.Pos()), err)
				}
			}
			cases = append(cases, badCorefile{name: s[0], corefile: s[1], want: s[2]})
			return false
		})
		return false
	})
	if len(cases) < 10 {
		t.Fatalf("found %d cases of TestParseErrors in %s, want its whole table", len(cases), parserTestFile())
	}
	return cases
}
