package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

// releaseLikeBinary is the build information of a CoreDNS with the plugin as make coredns
// builds one, in CoreDNS's tree at v1.14.6 (the main module, "(devel)" in the build
// information): the plugin's module replaced by the checkout's directory.
func releaseLikeBinary() binaryInfo {
	return binaryInfo{
		sha256:      strings.Repeat("ab", 32),
		mainVersion: "v1.14.6",
		build: &debug.BuildInfo{
			GoVersion: "go1.26.0",
			Path:      "github.com/coredns/coredns",
			Main:      debug.Module{Path: "github.com/coredns/coredns", Version: "(devel)"},
			Deps: []*debug.Module{
				{Path: "github.com/coredns/k8s_event", Version: "v0.0.0-00010101000000-000000000000", Replace: &debug.Module{Path: "../../..", Version: "(devel)"}},
				{Path: "github.com/docker/cli", Version: "v29.7.2+incompatible"},
				{Path: "k8s.io/client-go", Version: "v0.37.2", Sum: "h1:Y2xpZW50LWdv"},
			},
			Settings: []debug.BuildSetting{{Key: "CGO_ENABLED", Value: "0"}, {Key: "GOARCH", Value: "amd64"}, {Key: "-trimpath", Value: "true"}},
		},
	}
}

func marshalSBOM(t *testing.T, doc spdxDocument) []byte {
	t.Helper()
	data, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// TestSBOMNamesWhatTheBinaryHas: the SBOM of a release-like binary passes the check and
// names CoreDNS and client-go at the binary's versions, the plugin at the release's, and
// the Go version and build settings.
func TestSBOMNamesWhatTheBinaryHas(t *testing.T) {
	bin := releaseLikeBinary()
	doc := newSBOM("coredns-k8s_event-v1.2.0-linux-amd64", "v1.2.0", bin, time.Unix(1767225600, 0))
	summary, err := checkSBOM(marshalSBOM(t, doc), bin, sbomRequired)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"github.com/coredns/coredns v1.14.6", "k8s.io/client-go v0.37.2", "go1.26.0", "3 modules"} {
		if !strings.Contains(summary, want) {
			t.Errorf("summary %q does not say %q", summary, want)
		}
	}
	if doc.CreationInfo.Created != "2026-01-01T00:00:00Z" {
		t.Errorf("created %q, want the epoch's time, 2026-01-01T00:00:00Z", doc.CreationInfo.Created)
	}
	got := map[string]spdxPackage{}
	for _, p := range doc.Packages {
		got[p.Name] = p
	}
	if p := got["github.com/coredns/k8s_event"]; p.VersionInfo != "v1.2.0" || !strings.Contains(p.Comment, "../../..") {
		t.Errorf("the plugin's module, built from the checkout: %+v; want version v1.2.0 and a comment naming the directory", p)
	}
	if p := got["github.com/docker/cli"]; len(p.ExternalRefs) != 1 || p.ExternalRefs[0].ReferenceLocator != "pkg:golang/github.com/docker/cli@v29.7.2%2Bincompatible" {
		t.Errorf("docker/cli's package URL: %+v; want the version's + escaped", p.ExternalRefs)
	}
	if p := got["stdlib"]; p.VersionInfo != "go1.26.0" {
		t.Errorf("stdlib at %q, want the binary's Go version go1.26.0", p.VersionInfo)
	}
	var binary, main spdxPackage
	for _, p := range doc.Packages {
		switch p.SPDXID {
		case spdxBinaryID:
			binary = p
		case spdxMainID:
			main = p
		}
	}
	if c := binary.Comment; !strings.Contains(c, "CGO_ENABLED=0") || !strings.Contains(c, "-trimpath=true") {
		t.Errorf("the binary's comment %q does not list its build settings", c)
	}
	if binary.VersionInfo != "v1.2.0" || len(binary.ExternalRefs) != 0 {
		t.Errorf("the binary's package: %+v; want the release's version and no package URL (its main module is CoreDNS's, not at the release's version)", binary)
	}
	if main.Name != "github.com/coredns/coredns" || main.VersionInfo != "v1.14.6" || len(main.ExternalRefs) != 1 ||
		main.ExternalRefs[0].ReferenceLocator != "pkg:golang/github.com/coredns/coredns@v1.14.6" {
		t.Errorf("the main module's package: %+v; want github.com/coredns/coredns at the tree's tag v1.14.6", main)
	}
}

// TestSBOMCheckFails: an SBOM that is not the binary's, or not well-formed SPDX 2.3,
// fails the check, saying why.
func TestSBOMCheckFails(t *testing.T) {
	bin := releaseLikeBinary()
	good := func() spdxDocument { return newSBOM("sbom", "v1.2.0", bin, time.Unix(0, 0)) }
	mainModule := func(doc *spdxDocument) *spdxPackage {
		for i := range doc.Packages {
			if doc.Packages[i].SPDXID == spdxMainID {
				return &doc.Packages[i]
			}
		}
		t.Fatal("no package of the main module")
		return nil
	}
	for _, c := range []struct {
		name, want string
		change     func(*spdxDocument)
		data       func([]byte) []byte
		bin        func(binaryInfo) binaryInfo
		required   []string
	}{
		{name: "another binary", want: "want the binary's SHA256", bin: func(b binaryInfo) binaryInfo { b.sha256 = strings.Repeat("cd", 32); return b }},
		{name: "another CoreDNS", want: "github.com/coredns/coredns v1.14.6; the SBOM has v1.15.0", change: func(d *spdxDocument) { mainModule(d).VersionInfo = "v1.15.0" }},
		{name: "the tree's tag not given", want: "the SBOM has github.com/coredns/coredns v1.14.6, which the binary does not", bin: func(b binaryInfo) binaryInfo { b.mainVersion = ""; return b }},
		{name: "a module left out", want: "k8s.io/client-go v0.37.2; the SBOM has none", change: func(d *spdxDocument) { d.Relationships = d.Relationships[:len(d.Relationships)-1] }},
		{name: "a module the binary lacks", want: "which the binary does not", bin: func(b binaryInfo) binaryInfo {
			bi := *b.build
			bi.Deps = bi.Deps[1:]
			b.build = &bi
			return b
		}},
		{name: "no client-go compiled in", want: "no k8s.io/client-go", required: []string{"k8s.io/client-go", "example.com/absent"}, bin: func(b binaryInfo) binaryInfo {
			bi := *b.build
			bi.Deps = bi.Deps[:2]
			b.build = &bi
			return b
		}, change: func(d *spdxDocument) { d.Relationships = d.Relationships[:len(d.Relationships)-1] }},
		{name: "SPDX 2.2", want: `spdxVersion "SPDX-2.2"`, change: func(d *spdxDocument) { d.SPDXVersion = "SPDX-2.2" }},
		{name: "no namespace", want: "documentNamespace", change: func(d *spdxDocument) { d.DocumentNamespace = "sbom" }},
		{name: "a local time", want: "creationInfo.created", change: func(d *spdxDocument) { d.CreationInfo.Created = "2026-01-01T01:00:00+01:00" }},
		{name: "a bad identifier", want: "SPDXID", change: func(d *spdxDocument) { d.Packages[2].SPDXID = "module 1" }},
		{name: "an identifier twice", want: "used twice", change: func(d *spdxDocument) { d.Packages[3].SPDXID = d.Packages[2].SPDXID }},
		{name: "a dangling relationship", want: "relationship", change: func(d *spdxDocument) { d.Relationships[1].RelatedSPDXElement = "SPDXRef-nothing" }},
		{name: "an unknown field", want: "not an SPDX JSON document", data: func(b []byte) []byte { return []byte(`{"spdxVersion":"SPDX-2.3","bom":1}`) }},
		{name: "two documents", want: "data after the document", data: func(b []byte) []byte { return append(b, b...) }},
	} {
		t.Run(c.name, func(t *testing.T) {
			doc, b, required := good(), bin, sbomRequired
			if c.change != nil {
				c.change(&doc)
			}
			data := marshalSBOM(t, doc)
			if c.data != nil {
				data = c.data(data)
			}
			if c.bin != nil {
				b = c.bin(b)
			}
			if c.required != nil {
				required = c.required
			}
			if _, err := checkSBOM(data, b, required); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("checkSBOM: %v; want an error saying %q", err, c.want)
			}
		})
	}
}

// TestSBOMOfARealBinary: the sbom command writes the SBOM of a Go binary (this test's),
// read with debug/buildinfo, which sbom-check then accepts for that binary and refuses for
// another file.
func TestSBOMOfARealBinary(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "test.spdx.json")
	if err := writeSBOM([]string{"-binary", self, "-name", "test", "-version", "v0.0.0-test", "-epoch", "0", "-out", out}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := readBinary(self, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkSBOM(data, bin, []string{"github.com/google/go-containerregistry"}); err != nil {
		t.Errorf("the SBOM of %s: %v", self, err)
	}
	other := filepath.Join(t.TempDir(), "other")
	if err := os.WriteFile(other, append(mustRead(t, self), 0), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := sbomCheck([]string{"-sbom", out, "-binary", other}); err == nil || !strings.Contains(err.Error(), "SHA256") {
		t.Errorf("sbom-check against a binary with another digest: %v; want it refused on the SHA256", err)
	}
}

func mustRead(t *testing.T, file string) []byte {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
