package devenv

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func TestDefaultCoreDNSVersionIsTheNewestKubernetesMinors(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir, versionsFile, "# comment\nv1.12.0 1.33 v1.33.13\n\nv1.14.6 1.37 v1.37.2\nv1.15.0 - -\n")
	p := Paths{Root: dir}
	got, err := p.SupportedVersions()
	if err != nil {
		t.Fatal(err)
	}
	want := []SupportedVersion{{"v1.12.0", "1.33", "v1.33.13"}, {"v1.14.6", "1.37", "v1.37.2"}, {"v1.15.0", "", ""}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("SupportedVersions = %v, want %v", got, want)
	}
	if v, err := p.DefaultCoreDNSVersion(); err != nil || v != "v1.14.6" {
		t.Errorf("DefaultCoreDNSVersion = %q, %v; want v1.14.6", v, err)
	}
}

func TestSupportedVersionsRejectsAMalformedLine(t *testing.T) {
	for _, text := range []string{"v1.12.0 1.33\n", "1.12.0 1.33 v1.33.13\n", "v1.12.0 1.33 -\n", "v1.12.0 1.33 v1.33.13 x\n", "# only a comment\n"} {
		dir := t.TempDir()
		writeFile(t, dir, versionsFile, text)
		if vs, err := (Paths{Root: dir}).SupportedVersions(); err == nil {
			t.Errorf("SupportedVersions of %q = %v, want an error", text, vs)
		}
	}
}

// writeFile writes content to dir/name, making its directories.
func writeFile(t *testing.T, dir, name, content string) {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}
