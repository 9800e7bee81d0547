package devenv

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// controlPlaneBinaries returns the directory of etcd and kube-apiserver, or skips the
// test when they are not built.
func controlPlaneBinaries(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	dir := os.Getenv("K8S_EVENT_BIN_DIR")
	if dir == "" {
		root, err := findRoot()
		if err != nil {
			t.Skip(err)
		}
		dir = filepath.Join(root, ".bin")
	}
	if _, err := os.Stat(filepath.Join(dir, "kube-apiserver")); err != nil {
		t.Skipf("%v (make controlplane)", err)
	}
	return dir
}

// With WithEventRateLimit(1, 3), kube-apiserver admits three Event creates in a row in
// a namespace and answers the fourth 429 without Retry-After; the CPU time of its
// process and of etcd can be read.
func TestEventRateLimitAnswers429(t *testing.T) {
	cp, err := StartControlPlane(controlPlaneBinaries(t), WithEventRateLimit(1, 3))
	if err != nil {
		t.Fatal(err)
	}
	defer cp.Stop()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	events := cp.AdminClient().CoreV1().Events("default")
	var codes []int
	for i := range 4 {
		ev := &corev1.Event{
			ObjectMeta:     metav1.ObjectMeta{GenerateName: "limit-"},
			InvolvedObject: corev1.ObjectReference{Kind: "Namespace", Name: "default"},
			Reason:         "Test", Message: "event " + string(rune('a'+i)), Type: corev1.EventTypeNormal,
		}
		_, err := events.Create(ctx, ev, metav1.CreateOptions{})
		switch {
		case err == nil:
			codes = append(codes, 201)
		case apierrors.IsTooManyRequests(err):
			codes = append(codes, 429)
			if d, ok := apierrors.SuggestsClientDelay(err); ok {
				t.Errorf("429 suggests a delay of %d s: want none", d)
			}
		default:
			t.Fatalf("create %d: %v", i, err)
		}
	}
	if want := []int{201, 201, 201, 429}; !slices.Equal(codes, want) {
		t.Errorf("answers %v, want %v", codes, want)
	}
	for _, c := range []string{"kube-apiserver", "etcd"} {
		if d, err := cp.CPUTime(c); err != nil || d <= 0 {
			t.Errorf("CPUTime(%q) = %v, %v; want a positive time", c, d, err)
		}
	}
	if _, err := cp.CPUTime("kubectl"); err == nil {
		t.Error("CPUTime of a process the control plane does not run: no error")
	}
}

func TestEventRateLimitOptionRefusesNonPositive(t *testing.T) {
	if err := WithEventRateLimit(0, 10)(&apiServerSetup{dir: t.TempDir()}); err == nil {
		t.Error("qps 0 accepted")
	}
}

func TestParseStatCPU(t *testing.T) {
	// A command name with a space and a parenthesis, utime 150 and stime 25 ticks.
	stat := "4242 (kube (api) x) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 25 0 0 20 0 12 0 1000 2000000 3000"
	d, err := parseStatCPU(stat)
	if err != nil || d != 1750*time.Millisecond {
		t.Errorf("parseStatCPU = %v, %v; want 1.75s", d, err)
	}
	if _, err := parseStatCPU("4242 (x) S 1 2"); err == nil {
		t.Error("a short stat parsed")
	}
}

// The options add their flags to envtest's arguments, and WithEventRateLimit writes the
// admission configuration file its flag names, with the limit in it.
func TestOptionsSetFlagsAndFiles(t *testing.T) {
	dir := t.TempDir()
	args := envtest.EmptyArguments()
	if err := applyOptions(args, dir, []Option{WithAPIServerFlag("v", "2"), WithEventRateLimit(50, 100)}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "admission.yaml")
	flags := args.AsStrings(nil)
	for _, want := range []string{"--v=2", "--enable-admission-plugins=EventRateLimit", "--admission-control-config-file=" + file} {
		if !slices.Contains(flags, want) {
			t.Errorf("flags %q lack %q", flags, want)
		}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"name: EventRateLimit", "kind: Configuration", "type: Namespace", "qps: 50", "burst: 100"} {
		if !strings.Contains(string(data), want) {
			t.Errorf("admission configuration lacks %q:\n%s", want, data)
		}
	}
}
