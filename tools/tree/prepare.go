package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
)

// The plugin.cfg lines that add the plugin, kubeapi first, at the end: k8s_event must
// come after health, whose lame duck runs before k8s_event's final flush only in that
// order (caddy runs the OnFinalShutdown callbacks in plugin.cfg's order).
var pluginLines = []string{
	"kubeapi:github.com/coredns/kubeapi",
	"k8s_event:github.com/coredns/k8s_event",
}

// kubeapi is the version of kubeapi the README names.
const kubeapi = "github.com/coredns/kubeapi@v0.0.0-20220204142012-e4e9337f0a0d"

// recipe changes whenever the steps below do, so that trees prepared by older steps are
// prepared again.
const recipe = "tree 1"

// stampFile, in a prepared tree, holds the inputs it was prepared from.
const stampFile = ".k8s_event-tree"

// prepare makes dir CoreDNS's tree at version, with the plugin of the repository root
// plugin when plugin is not empty (see the package comment). One preparation of a
// directory at a time: a second caller waits, then finds the tree prepared.
func prepare(version, dir, plugin string) error {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	unlock, err := lock(dir + ".lock")
	if err != nil {
		return err
	}
	defer unlock()

	stamp, err := inputs(version, plugin)
	if err != nil {
		return err
	}
	if b, err := os.ReadFile(filepath.Join(dir, stampFile)); err == nil && string(b) == stamp {
		fmt.Printf("CoreDNS %s tree is up to date (%s)\n", version, dir)
		return nil
	}
	src, err := moduleDir(version)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		return fmt.Errorf("copying the module's tree: %v", err)
	}
	if plugin != "" {
		if err := addPlugin(dir, plugin); err != nil {
			return err
		}
	}
	return os.WriteFile(filepath.Join(dir, stampFile), []byte(stamp), 0o644)
}

// addPlugin adds kubeapi and k8s_event (from root) to CoreDNS's tree in dir and fails if
// that raised anything the tree required.
func addPlugin(dir, root string) error {
	root, err := filepath.Abs(root)
	if err != nil {
		return err
	}
	rel, err := filepath.Rel(dir, root)
	if err != nil {
		return err
	}
	before, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	if err := appendLines(filepath.Join(dir, "plugin.cfg"), pluginLines); err != nil {
		return err
	}
	steps := [][]string{
		{"mod", "edit", "-replace", "github.com/coredns/k8s_event=" + filepath.ToSlash(rel)},
		{"get", kubeapi},
		{"generate", "coredns.go"},
		{"mod", "tidy"},
	}
	for _, args := range steps {
		if _, err := goCmd(dir, args...); err != nil {
			return err
		}
	}
	after, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return err
	}
	raised, err := raises(before, after)
	if err != nil {
		return err
	}
	if len(raised) > 0 {
		return fmt.Errorf("adding the plugin raised %d of CoreDNS's own requirements (old → new):\n\t%s",
			len(raised), strings.Join(raised, "\n\t"))
	}
	return nil
}

// appendLines adds lines at the end of the file name, on lines of their own.
func appendLines(name string, lines []string) error {
	b, err := os.ReadFile(name)
	if err != nil {
		return err
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		b = append(b, '\n')
	}
	b = append(b, strings.Join(lines, "\n")+"\n"...)
	return os.WriteFile(name, b, 0o644)
}

// moduleDir returns the directory of CoreDNS's module at version in the module cache,
// downloading it from the Go module proxy when it is not there.
func moduleDir(version string) (string, error) {
	out, err := goCmd(os.TempDir(), "mod", "download", "-json", "github.com/coredns/coredns@"+version)
	var m struct{ Dir, Error string }
	if jerr := json.Unmarshal(out, &m); jerr != nil {
		if err == nil {
			err = jerr
		}
		return "", fmt.Errorf("go mod download: %v", err)
	}
	if m.Error != "" || m.Dir == "" {
		return "", fmt.Errorf("go mod download github.com/coredns/coredns@%s: %s", version, m.Error)
	}
	return m.Dir, nil
}

// goCmd runs the go command in dir, its output to stderr as it comes, and returns its
// standard output (also when it fails: go mod download -json says why there). The go command is the one that builds: no workspace, no other
// toolchain.
func goCmd(dir string, args ...string) ([]byte, error) {
	var stdout bytes.Buffer
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOTOOLCHAIN=local", "GOFLAGS=")
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("go %s: %v", strings.Join(args, " "), err)
	}
	return stdout.Bytes(), nil
}

// inputs describes what a tree is prepared from: the steps, the version, and for a tree
// with the plugin, the plugin's requirements.
func inputs(version, plugin string) (string, error) {
	s := recipe + "\n" + version + "\n"
	if plugin == "" {
		return s + "stock\n", nil
	}
	h := sha256.New()
	for _, f := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(plugin, f))
		if err != nil {
			return "", err
		}
		h.Write(b)
	}
	return s + "plugin " + hex.EncodeToString(h.Sum(nil)) + "\n", nil
}

// lock takes an exclusive lock on the file name, creating it, and returns its release.
func lock(name string) (func(), error) {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, errors.Join(errors.New("locking "+name), err)
	}
	return func() { f.Close() }, nil
}
