package e2e

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// kubectl runs kubectl as the admin and returns its output, failing the test if it fails.
func kubectl(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // also from t.Cleanup
	defer cancel()
	args = append([]string{"--kubeconfig=" + suite.cp.AdminKubeconfig()}, args...)
	out, err := exec.CommandContext(ctx, suite.cp.KubectlPath(), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args[1:], " "), err, out)
	}
	return string(out)
}

// lineWith returns the first line of out that contains every one of parts, or "".
func lineWith(out string, parts ...string) string {
	for _, l := range strings.Split(out, "\n") {
		found := true
		for _, p := range parts {
			if !strings.Contains(l, p) {
				found = false
				break
			}
		}
		if found {
			return l
		}
	}
	return ""
}

// kubectlAllowFail runs kubectl as the admin and returns its output whether or not it
// succeeds (kubectl auth can-i exits 1 for "no").
func kubectlAllowFail(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second) // also from t.Cleanup
	defer cancel()
	args = append([]string{"--kubeconfig=" + suite.cp.AdminKubeconfig()}, args...)
	out, _ := exec.CommandContext(ctx, suite.cp.KubectlPath(), args...).CombinedOutput()
	return string(out)
}
