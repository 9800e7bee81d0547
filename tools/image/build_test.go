package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// fakeInputs writes stand-ins for the binaries and the CA bundle, and returns the coredns
// recipe for two platforms.
func fakeInputs(t *testing.T) []platformRecipe {
	t.Helper()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ca := caPackage{
		bundle:    write("ca.crt", "-----BEGIN CERTIFICATE-----\n"),
		status:    write("status", fakeCAStatus),
		copyright: write("copyright", fakeCACopyright),
	}
	return []platformRecipe{
		{v1.Platform{OS: "linux", Architecture: "amd64"}, coreDNS(write("amd64", "\x7fELF amd64"), ca)},
		{v1.Platform{OS: "linux", Architecture: "arm64"}, coreDNS(write("arm64", "\x7fELF arm64"), ca)},
	}
}

// layoutTar builds the index of platforms and returns it and its layout tar.
func layoutTar(t *testing.T, platforms []platformRecipe, created time.Time) (v1.ImageIndex, []byte) {
	t.Helper()
	idx, err := buildIndex(platforms, created)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := writeLayoutTar(&buf, idx, "localhost/k8s-event/coredns:dev", "dev", created); err != nil {
		t.Fatal(err)
	}
	return idx, buf.Bytes()
}

// TestBuildIsReproducible: the same inputs make the same bytes, whatever the inputs' own
// dates, permissions and the time of the build; another epoch makes another image.
func TestBuildIsReproducible(t *testing.T) {
	platforms := fakeInputs(t)
	epoch := time.Unix(1700000000, 0)
	idx1, tar1 := layoutTar(t, platforms, epoch)
	for _, p := range platforms {
		for _, f := range p.recipe.files {
			if err := os.Chtimes(f.src, time.Now(), time.Now().Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if err := os.Chmod(f.src, 0o755); err != nil {
				t.Fatal(err)
			}
		}
	}
	idx2, tar2 := layoutTar(t, platforms, epoch)
	d1, _ := idx1.Digest()
	d2, _ := idx2.Digest()
	if d1 != d2 || !bytes.Equal(tar1, tar2) {
		t.Errorf("two builds of the same inputs differ: %s (%d bytes), %s (%d bytes)", d1, len(tar1), d2, len(tar2))
	}
	idx3, _ := layoutTar(t, platforms, epoch.Add(time.Second))
	if d3, _ := idx3.Digest(); d3 == d1 {
		t.Errorf("another epoch made the same image %s: the date is not in it", d3)
	}
}

// TestLayoutTarRoundTrip: what writeLayoutTar writes, readLayoutTar reads back, with the
// same digest and the name importers use.
func TestLayoutTarRoundTrip(t *testing.T) {
	idx, data := layoutTar(t, fakeInputs(t), time.Unix(1700000000, 0))
	file := filepath.Join(t.TempDir(), "coredns.tar")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, name, err := readLayoutTar(file, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	if d, _ := got.Digest(); d != want || name != "localhost/k8s-event/coredns:dev" {
		t.Errorf("read back %s named %q, want %s named localhost/k8s-event/coredns:dev", d, name, want)
	}

	// A blob whose content changed (here the configs' user) is refused.
	corrupt := bytes.ReplaceAll(data, []byte(`"User":"65532:65532"`), []byte(`"User":"00000:00000"`))
	if bytes.Equal(corrupt, data) {
		t.Fatal("the tar has no config with user 65532:65532")
	}
	if err := os.WriteFile(file, corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := readLayoutTar(file, t.TempDir()); err == nil || !strings.Contains(err.Error(), "has digest") {
		t.Errorf("reading a tar with a changed blob: %v, want a digest error", err)
	}
}

func TestImageTag(t *testing.T) {
	for ref, want := range map[string]string{
		"localhost/k8s-event/coredns:dev":      "dev",
		"localhost:5000/coredns:v1.2.0":        "v1.2.0",
		"registry.example/team/coredns:v1.2.0": "v1.2.0",
	} {
		if got, err := imageTag(ref); err != nil || got != want {
			t.Errorf("imageTag(%q) = %q, %v; want %q", ref, got, err, want)
		}
	}
	// Without a host, the kubelet would not find the imported image; without a tag, it
	// would look for latest.
	for _, ref := range []string{"", "coredns:dev", "k8s-event/coredns:dev", "localhost/k8s-event/coredns", "localhost/Coredns:dev"} {
		if got, err := imageTag(ref); err == nil {
			t.Errorf("imageTag(%q) = %q, want an error", ref, got)
		}
	}
}
