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

// The deploy/ scripts' tests run them against a stand-in for kubectl: this test binary,
// run as "kubectl", keeps the ConfigMap's Corefile and the coredns container's image in
// files. The end-to-end tests run the scripts with the real kubectl.

// The files that hold the stand-in's state: the ConfigMap's Corefile, and the coredns
// container's image.
const (
	fakeCorefileEnv = "K8S_EVENT_FAKE_COREFILE"
	fakeImageEnv    = "K8S_EVENT_FAKE_IMAGE"
)

func TestMain(m *testing.M) {
	if filepath.Base(os.Args[0]) == "kubectl" {
		os.Exit(fakeKubectl(os.Args[1:]))
	}
	os.Exit(m.Run())
}

// runScript runs the deploy/ script name with args, the stand-in kubectl first on PATH and
// env added to the environment, and returns its combined output.
func runScript(t *testing.T, env []string, name string, args ...string) (string, error) {
	t.Helper()
	bin := t.TempDir()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, filepath.Join(bin, "kubectl")); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("sh", append([]string{repoPath("deploy", name)}, args...)...)
	cmd.Env = append(append(os.Environ(), "PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH")), env...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// fakeKubectl does what the scripts ask of kubectl. corefile.sh: get the Corefile
// (jsonpath {.data.Corefile}), encode a file as a ConfigMap's data (create
// --dry-run=client -o jsonpath={.data}), and apply a merge patch of data.Corefile.
// image.sh: get the coredns container's image, and set it.
func fakeKubectl(args []string) int {
	cmd := strings.Join(args, " ")
	var err error
	switch {
	case strings.Contains(cmd, " get configmap coredns -o jsonpath={.data.Corefile}"):
		err = cat(os.Getenv(fakeCorefileEnv))
	case strings.Contains(cmd, " create configmap coredns --from-file=Corefile=") && strings.HasSuffix(cmd, " --dry-run=client -o jsonpath={.data}"):
		from := strings.Fields(strings.SplitN(cmd, "--from-file=Corefile=", 2)[1])[0]
		var data []byte
		if data, err = os.ReadFile(from); err == nil {
			out, _ := json.Marshal(map[string]string{"Corefile": string(data)})
			os.Stdout.Write(out)
		}
	case strings.Contains(cmd, " patch configmap coredns --type merge --patch-file "):
		var patch struct {
			Data map[string]string `json:"data"`
		}
		data, rerr := os.ReadFile(args[len(args)-1])
		if err = rerr; err == nil {
			err = json.Unmarshal(data, &patch)
		}
		if err == nil && len(patch.Data) != 1 {
			err = fmt.Errorf("patch of %d keys: %s", len(patch.Data), data)
		}
		if err == nil {
			err = os.WriteFile(os.Getenv(fakeCorefileEnv), []byte(patch.Data["Corefile"]), 0o644)
		}
		if err == nil {
			fmt.Println("configmap/coredns patched")
		}
	case strings.HasSuffix(cmd, ` get deployment coredns -o jsonpath={.spec.template.spec.containers[?(@.name=="coredns")].image}`):
		err = cat(os.Getenv(fakeImageEnv))
	case strings.Contains(cmd, " set image deployment/coredns coredns="):
		image := strings.SplitN(cmd, " coredns=", 2)[1]
		if err = os.WriteFile(os.Getenv(fakeImageEnv), []byte(image), 0o644); err == nil {
			fmt.Println("deployment.apps/coredns image updated")
		}
	default:
		err = fmt.Errorf("unexpected command: %s", cmd)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "fake kubectl:", err)
		return 1
	}
	return 0
}

// cat writes the file's contents to standard output.
func cat(file string) error {
	data, err := os.ReadFile(file)
	if err == nil {
		_, err = os.Stdout.Write(data)
	}
	return err
}
