package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestExtract: extract writes a platform's file from the image in a tar, byte for byte,
// and fails for a platform or a file the image does not have.
func TestExtract(t *testing.T) {
	_, data := layoutTar(t, fakeInputs(t), time.Unix(1700000000, 0))
	dir := t.TempDir()
	file := filepath.Join(dir, "coredns.tar")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	for platform, want := range map[string]string{"linux/amd64": "\x7fELF amd64", "linux/arm64": "\x7fELF arm64"} {
		out := filepath.Join(dir, "coredns-"+filepath.Base(platform))
		if err := run([]string{"extract", "-tar", file, "-platform", platform, "-path", "coredns", "-out", out}); err != nil {
			t.Fatalf("extract %s: %v", platform, err)
		}
		got, err := os.ReadFile(out)
		if err != nil || string(got) != want {
			t.Errorf("extract %s: got %q (%v), want %q", platform, got, err, want)
		}
	}
	for _, c := range [][2]string{{"linux/s390x", "coredns"}, {"linux/amd64", "no-such-file"}} {
		if err := run([]string{"extract", "-tar", file, "-platform", c[0], "-path", c[1], "-out", filepath.Join(dir, "x")}); err == nil {
			t.Errorf("extract %s %s: no error", c[0], c[1])
		}
	}
}
