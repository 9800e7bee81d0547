package check

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// deploy/corefile.sh on Corefiles of every shape, against a stand-in for kubectl: this
// test binary, run as "kubectl", keeps the ConfigMap's Corefile in a file. The end-to-end
// tests run the script with the real kubectl on kubeadm's Corefile.

// fakeCorefileEnv names the file that holds the stand-in ConfigMap's Corefile.
const fakeCorefileEnv = "K8S_EVENT_FAKE_COREFILE"

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "kubectl" {
		os.Exit(fakeKubectl(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// fakeKubectl does what corefile.sh asks of kubectl: get the Corefile (jsonpath
// {.data.Corefile}), encode a file as a ConfigMap's data (create --dry-run=client -o
// jsonpath={.data}), and apply a merge patch of data.Corefile.
func fakeKubectl(args []string) int {
	file := os.Getenv(fakeCorefileEnv)
	cmd := strings.Join(args, " ")
	switch {
	case strings.Contains(cmd, " get configmap coredns -o jsonpath={.data.Corefile}"):
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		os.Stdout.Write(data)
	case strings.Contains(cmd, " create configmap coredns --from-file=Corefile=") && strings.HasSuffix(cmd, " --dry-run=client -o jsonpath={.data}"):
		from := strings.Fields(strings.SplitN(cmd, "--from-file=Corefile=", 2)[1])[0]
		data, err := os.ReadFile(from)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		out, _ := json.Marshal(map[string]string{"Corefile": string(data)})
		os.Stdout.Write(out)
	case strings.Contains(cmd, " patch configmap coredns --type merge --patch-file "):
		var patch struct {
			Data map[string]string `json:"data"`
		}
		data, err := os.ReadFile(args[len(args)-1])
		if err == nil {
			err = json.Unmarshal(data, &patch)
		}
		if err == nil {
			err = os.WriteFile(file, []byte(patch.Data["Corefile"]), 0o644)
		}
		if err != nil || len(patch.Data) != 1 {
			fmt.Fprintln(os.Stderr, "patch:", err, string(data))
			return 1
		}
		fmt.Println("configmap/coredns patched")
	default:
		fmt.Fprintln(os.Stderr, "fake kubectl: unexpected command:", cmd)
		return 1
	}
	return 0
}

// corefileSh runs deploy/corefile.sh with the stand-in kubectl on the Corefile in file.
func corefileSh(t *testing.T, file, verb string) string {
	t.Helper()
	bin := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "kubectl")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", repoPath("deploy", "corefile.sh"), verb)
	cmd.Env = append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"), fakeCorefileEnv+"="+file)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("corefile.sh %s: %v\n%s", verb, err, out)
	}
	return string(out)
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
