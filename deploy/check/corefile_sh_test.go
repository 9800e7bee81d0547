package check

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// deploy/corefile.sh on Corefiles of every shape, against the stand-in kubectl
// (fake_kubectl_test.go). The end-to-end tests run it with the real kubectl on kubeadm's
// Corefile.

// corefileSh runs deploy/corefile.sh with the stand-in kubectl on the Corefile in file.
func corefileSh(t *testing.T, file, verb string) string {
	t.Helper()
	out, err := runScript(t, []string{fakeCorefileEnv + "=" + file}, "corefile.sh", verb)
	if err != nil {
		t.Fatalf("corefile.sh %s: %v\n%s", verb, err, out)
	}
	return out
}

// TestCorefileScript: add puts the two lines at the top of the first server block,
// indented as the next line, once however often it runs; remove takes out every line of
// kubeapi and k8s_event, blocks included, and gives the original back byte for byte,
// whatever the Corefile's shape (tabs, no final newline, several server blocks, snippets,
// a directive already there).
func TestCorefileScript(t *testing.T) {
	for _, tc := range []struct {
		name, corefile, added string
	}{
		{"kubeadm's",
			".:53 {\n    errors\n    cache 30 {\n       disable success cluster.local\n    }\n    reload\n}\n",
			".:53 {\n    kubeapi\n    k8s_event\n    errors\n    cache 30 {\n       disable success cluster.local\n    }\n    reload\n}\n"},
		{"tabs, no final newline",
			".:53 {\n\terrors\n\tforward . /etc/resolv.conf\n}",
			".:53 {\n\tkubeapi\n\tk8s_event\n\terrors\n\tforward . /etc/resolv.conf\n}"},
		{"a snippet and two server blocks",
			"# comment {\n(common) {\n  errors\n}\n\nexample.org:53 {\n  import common\n}\n.:53 {\n  forward . 127.0.0.1\n}\n",
			"# comment {\n(common) {\n  errors\n}\n\nexample.org:53 {\n  kubeapi\n  k8s_event\n  import common\n}\n.:53 {\n  forward . 127.0.0.1\n}\n"},
		{"kubeapi already there",
			".:53 {\n    kubeapi {\n        kubeconfig /kubeconfig\n    }\n    errors\n}\n",
			".:53 {\n    k8s_event\n    kubeapi {\n        kubeconfig /kubeconfig\n    }\n    errors\n}\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "Corefile")
			if err := os.WriteFile(file, []byte(tc.corefile), 0o644); err != nil {
				t.Fatal(err)
			}
			read := func() string {
				data, err := os.ReadFile(file)
				if err != nil {
					t.Fatal(err)
				}
				return string(data)
			}
			corefileSh(t, file, "add")
			if got := read(); got != tc.added {
				t.Fatalf("after add:\n%q\nwant\n%q", got, tc.added)
			}
			if out := corefileSh(t, file, "add"); read() != tc.added || !strings.Contains(out, "unchanged") {
				t.Errorf("add run again changed the Corefile, or did not say it did not: %s\n%q", out, read())
			}
			corefileSh(t, file, "remove")
			want := tc.corefile
			if strings.Contains(tc.corefile, "kubeapi") { // remove takes out what was there before add too
				want = ".:53 {\n    errors\n}\n"
			}
			if got := read(); got != want {
				t.Errorf("after remove:\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// TestCorefileScriptRemovesBlocks: remove takes out a k8s_event block of the operator's
// settings, with its closing brace, and nothing else.
func TestCorefileScriptRemovesBlocks(t *testing.T) {
	file := filepath.Join(t.TempDir(), "Corefile")
	with := ".:53 {\n    kubeapi\n    k8s_event {\n        level error\n        rate 0.1 10\n    }\n    cache 30 {\n        disable success cluster.local\n    }\n}\n"
	if err := os.WriteFile(file, []byte(with), 0o644); err != nil {
		t.Fatal(err)
	}
	corefileSh(t, file, "remove")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if want := ".:53 {\n    cache 30 {\n        disable success cluster.local\n    }\n}\n"; string(data) != want {
		t.Errorf("after remove:\n%q\nwant\n%q", data, want)
	}
}
