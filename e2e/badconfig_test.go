package e2e

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/tools/txtar"
)

// TestBadCorefile: CoreDNS refuses to start on every bad k8s_event stanza of
// testdata/bad-corefiles.txtar (the parser's unit test reads the same file), on
// k8s_event without kubeapi, and on server blocks that configure k8s_event differently;
// it exits non-zero naming plugin/k8s_event and the problem.
func TestBadCorefile(t *testing.T) {
	t.Parallel()
	cl := sharedCluster(t)
	archive, err := txtar.ParseFile(suite.paths.Testdata("bad-corefiles.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	type badCorefile struct{ name, corefile, want string }
	var cases []badCorefile
	for _, f := range archive.Files {
		want, _, _ := strings.Cut(strings.TrimPrefix(string(f.Data), "# want: "), "\n")
		cases = append(cases, badCorefile{f.Name, serverBlock(rootZone(freeAddr(t)), cl.kubeapi(), string(f.Data)), want})
	}
	if len(cases) < 10 {
		t.Fatalf("%d cases in bad-corefiles.txtar, want its whole table", len(cases))
	}
	cases = append(cases,
		badCorefile{"without kubeapi", serverBlock(rootZone(freeAddr(t)), "whoami", k8sEventDirective()), "has k8s_event but no kubeapi"},
		badCorefile{"different settings in two server blocks",
			serverBlock(zoneKey("a.test.", freeAddr(t)), "whoami", cl.kubeapi(), k8sEventDirective("level info")) +
				serverBlock(zoneKey("b.test.", freeAddr(t)), "whoami", cl.kubeapi(), k8sEventDirective("level error")),
			"configure k8s_event differently"},
	)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := launchCoreDNS(t, tc.corefile)
			code, err := c.WaitExit(timeout(t, 30*time.Second))
			if err != nil {
				t.Fatal(err)
			}
			out := strings.Join(c.Lines(), "\n")
			if code == 0 || !strings.Contains(out, "plugin/k8s_event") || !strings.Contains(out, tc.want) {
				t.Errorf("CoreDNS exited with code %d, want non-zero and output naming plugin/k8s_event and %q", code, tc.want)
			}
		})
	}
}
