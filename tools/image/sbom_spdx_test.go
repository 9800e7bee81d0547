package main

import (
	"os"
	"path/filepath"
	"testing"

	spdxjson "github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdxlib"
)

// TestSBOMIsValidSPDX: the SBOM the sbom command writes for a real Go binary (this
// test's) is read by SPDX's own Go library (spdx/tools-golang) as an SPDX 2.3 document and
// passes its validation: every element a relationship names exists, and the document
// describes a package; every package has an identifier, a name and a download location.
func TestSBOMIsValidSPDX(t *testing.T) {
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "test.spdx.json")
	if err := writeSBOM([]string{"-binary", self, "-name", "test", "-version", "v0.0.0-test", "-epoch", "0", "-out", out}); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := spdxjson.Read(f)
	if err != nil {
		t.Fatalf("spdx/tools-golang cannot read the SBOM: %v", err)
	}
	if doc.SPDXVersion != "SPDX-2.3" || doc.DataLicense != "CC0-1.0" || doc.DocumentNamespace == "" {
		t.Errorf("SBOM: version %q, data license %q, namespace %q; want SPDX-2.3, CC0-1.0 and a namespace", doc.SPDXVersion, doc.DataLicense, doc.DocumentNamespace)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		t.Errorf("spdx/tools-golang's validation: %v", err)
	}
	described, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil || len(described) == 0 {
		t.Errorf("the SBOM describes no package (%v)", err)
	}
	if len(doc.Packages) < 2 {
		t.Errorf("the SBOM has %d packages, want the binary's and its modules'", len(doc.Packages))
	}
	for _, p := range doc.Packages {
		if p.PackageSPDXIdentifier == "" || p.PackageName == "" || p.PackageDownloadLocation == "" {
			t.Errorf("package %+v: no identifier, name or download location", p)
		}
	}
}
