package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// testImage returns the tar of a linux/amd64 coredns image whose binary is this test's (a
// Go binary with build information) and whose CA package is the fakes', and that platform's
// image read back from it. The image is made once (TestMain removes it); each caller gets
// its own list of files.
func testImage(t *testing.T) (string, platformImageInfo) {
	t.Helper()
	sbomImage.Lock()
	defer sbomImage.Unlock()
	if sbomImage.tar == "" {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		platforms := fakeInputs(t)
		files := platforms[0].recipe.files
		r := coreDNS(self, caPackage{bundle: files[1].src, status: files[2].src, copyright: files[3].src})
		_, data := layoutTar(t, []platformRecipe{{v1.Platform{OS: "linux", Architecture: "amd64"}, r}}, time.Unix(1700000000, 0))
		dir, err := os.MkdirTemp("", "image-sbom-test-")
		if err != nil {
			t.Fatal(err)
		}
		sbomImage.dir = dir
		file := filepath.Join(dir, "coredns.tar")
		if err := os.WriteFile(file, data, 0o644); err != nil {
			t.Fatal(err)
		}
		img, err := readPlatformImage(file, "linux/amd64", "")
		if err != nil {
			t.Fatal(err)
		}
		sbomImage.tar, sbomImage.img = file, img
	}
	img := sbomImage.img
	img.files = slices.Clone(img.files)
	return sbomImage.tar, img
}

// sbomImage is testImage's image, made once.
var sbomImage struct {
	sync.Mutex
	dir, tar string
	img      platformImageInfo
}

// TestImageSBOMDescribesTheWholeImage: the image's SBOM, as image-sbom writes it, is read
// and validated by spdx/tools-golang and describes the image whole: its four files with
// their digests, the Go binary's modules, and the CA bundle generated from the Debian
// package ca-certificates at its version with its licences.
func TestImageSBOMDescribesTheWholeImage(t *testing.T) {
	tarFile, img := testImage(t)
	var paths []string
	for _, f := range img.files {
		paths = append(paths, f.path)
	}
	want := []string{"coredns", "etc/ssl/certs/ca-certificates.crt", "usr/share/doc/ca-certificates/copyright", "var/lib/dpkg/status.d/ca-certificates"}
	if !slices.Equal(paths, want) {
		t.Fatalf("the image's files are %q, want %q", paths, want)
	}
	out := filepath.Join(t.TempDir(), "image.spdx.json")
	if err := writeImageSBOM([]string{"-tar", tarFile, "-platform", "linux/amd64", "-name", "test", "-version", "v0.0.0-test", "-epoch", "0", "-out", out}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	summary, err := checkImageSBOM(data, img, []string{"github.com/spdx/tools-golang"})
	if err != nil {
		t.Fatalf("the SBOM image-sbom wrote fails its check: %v", err)
	}
	if !strings.Contains(summary, "4 files") || !strings.Contains(summary, "ca-certificates 20230311+deb12u1 (GPL-2.0-or-later AND MPL-2.0)") {
		t.Errorf("summary %q: want 4 files and ca-certificates 20230311+deb12u1 (GPL-2.0-or-later AND MPL-2.0)", summary)
	}
}

// TestImageSBOMCheckFails: the check rejects an SBOM that leaves out or misstates any part
// of the image, and one that spdx/tools-golang's validation rejects.
func TestImageSBOMCheckFails(t *testing.T) {
	_, img := testImage(t)
	for name, c := range map[string]struct {
		change func(*spdxDocument)
		want   string
	}{
		"a file missing": {func(d *spdxDocument) { dropFile(t, d, "/etc/ssl/certs/ca-certificates.crt") }, "is not in the SBOM"},
		"a file left in the document but not in the image's package": {func(d *spdxDocument) {
			image := packageByID(t, d, spdxImageID)
			image.HasFiles = image.HasFiles[1:]
		}, "is not in the image's package"},
		"a file too many": {func(d *spdxDocument) {
			d.Files = append(d.Files, spdxFile{FileName: "/etc/passwd", SPDXID: "SPDXRef-File-99", Checksums: d.Files[0].Checksums})
		}, "which the image does not"},
		"a changed checksum": {func(d *spdxDocument) { d.Files[1].Checksums[1].ChecksumValue = strings.Repeat("0", 64) }, "not the image's file's"},
		"a module missing": {func(d *spdxDocument) {
			d.Relationships = slices.DeleteFunc(d.Relationships, func(r spdxRelationship) bool { return r.RelatedSPDXElement == "SPDXRef-Package-module-1" })
		}, "the binary has"},
		"the CA package's version": {func(d *spdxDocument) { packageByID(t, d, spdxDebIDPrefix+caPackageName).VersionInfo = "20200601" }, "the Debian package ca-certificates 20230311+deb12u1"},
		"the CA package's licence": {func(d *spdxDocument) { packageByID(t, d, spdxDebIDPrefix+caPackageName).LicenseDeclared = "MIT" }, "GPL-2.0-or-later AND MPL-2.0"},
		"the bundle not generated from it": {func(d *spdxDocument) {
			d.Relationships = slices.DeleteFunc(d.Relationships, func(r spdxRelationship) bool { return r.RelationshipType == "GENERATED_FROM" })
		}, "is not generated from the package ca-certificates"},
		"another image": {func(d *spdxDocument) { packageByID(t, d, spdxImageID).ExternalRefs[0].ReferenceLocator += "x" }, "not this image"},
		"a relationship to nothing": {func(d *spdxDocument) {
			d.Relationships = append(d.Relationships, spdxRelationship{spdxImageID, "CONTAINS", "SPDXRef-Package-nothing"})
		}, "spdx/tools-golang's validation"},
	} {
		t.Run(name, func(t *testing.T) {
			doc, err := newImageSBOM("test", "v0.0.0-test", img, time.Unix(0, 0))
			if err != nil {
				t.Fatal(err)
			}
			c.change(&doc)
			data, err := json.Marshal(doc)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := checkImageSBOM(data, img, nil); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("check: %v, want an error with %q", err, c.want)
			}
		})
	}
}

// dropFile removes the file named name from doc and every mention of it, as a generator
// that missed it would write the document.
func dropFile(t *testing.T, doc *spdxDocument, name string) {
	t.Helper()
	i := slices.IndexFunc(doc.Files, func(f spdxFile) bool { return f.FileName == name })
	if i < 0 {
		t.Fatalf("the SBOM has no file %s", name)
	}
	id := doc.Files[i].SPDXID
	doc.Files = slices.Delete(doc.Files, i, i+1)
	for j := range doc.Packages {
		doc.Packages[j].HasFiles = slices.DeleteFunc(doc.Packages[j].HasFiles, func(f string) bool { return f == id })
	}
	doc.Relationships = slices.DeleteFunc(doc.Relationships, func(r spdxRelationship) bool { return r.SPDXElementID == id || r.RelatedSPDXElement == id })
}

// packageByID is the package of doc with the SPDX identifier id.
func packageByID(t *testing.T, doc *spdxDocument, id string) *spdxPackage {
	t.Helper()
	for i := range doc.Packages {
		if doc.Packages[i].SPDXID == id {
			return &doc.Packages[i]
		}
	}
	t.Fatalf("the SBOM has no package %s", id)
	return nil
}

// TestImageSBOMNeedsTheBundlesPackage: an image with the CA bundle but without its
// package's status gets no SBOM, which could not name the bundle's package.
func TestImageSBOMNeedsTheBundlesPackage(t *testing.T) {
	_, img := testImage(t)
	img.files = slices.DeleteFunc(img.files, func(f imageFile) bool { return f.path == dpkgStatusDir+caPackageName })
	if _, err := newImageSBOM("test", "v0.0.0-test", img, time.Unix(0, 0)); err == nil || !strings.Contains(err.Error(), "whose status the image does not carry") {
		t.Errorf("newImageSBOM without the package's status: %v, want an error", err)
	}
}

// TestDebianPackage: the status stanza's name, version and architecture, the copyright
// file's licences as SPDX names them, and the package URL of Debian's and Ubuntu's.
func TestDebianPackage(t *testing.T) {
	p, err := parseDebStatus([]byte(fakeCAStatus))
	if err != nil {
		t.Fatal(err)
	}
	p.licenses = debLicenses([]byte(fakeCACopyright))
	if p.name != "ca-certificates" || p.version != "20230311+deb12u1" || p.arch != "all" || p.spdxLicense() != "GPL-2.0-or-later AND MPL-2.0" {
		t.Errorf("parsed %+v, licence %q", p, p.spdxLicense())
	}
	if got := p.purl(); len(got) != 1 || got[0].ReferenceLocator != "pkg:deb/debian/ca-certificates@20230311%2Bdeb12u1?arch=all" || p.supplier() != "Organization: Debian" {
		t.Errorf("purl %+v, supplier %q", got, p.supplier())
	}
	p.maintainer = "Ubuntu Developers <ubuntu-devel-discuss@lists.ubuntu.com>"
	if got := p.purl(); len(got) != 1 || !strings.HasPrefix(got[0].ReferenceLocator, "pkg:deb/ubuntu/") || p.supplier() != "Organization: Ubuntu" {
		t.Errorf("Ubuntu's purl %+v, supplier %q", got, p.supplier())
	}
	p.maintainer = "Someone <someone@example.org>"
	if got := p.purl(); got != nil || p.supplier() != "NOASSERTION" {
		t.Errorf("another distribution's purl %+v, supplier %q: want none and NOASSERTION", got, p.supplier())
	}
	p.licenses = append(p.licenses, "public-domain")
	if got := p.spdxLicense(); got != "NOASSERTION" {
		t.Errorf("a licence without an SPDX identifier: %q, want NOASSERTION", got)
	}
	if _, err := parseDebStatus([]byte("Package: x\n")); err == nil {
		t.Error("a stanza without Version and Architecture was accepted")
	}
}
