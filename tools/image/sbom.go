package main

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"
)

// An SBOM here is an SPDX 2.3 JSON document made from a Go binary's build information
// (debug/buildinfo): one package for the binary, one for the Go standard library it was
// built with, and one for every module compiled into it, each linked statically into the
// binary. Only the fields this file writes are declared; the check (sbomcheck.go) rejects
// any other.

// spdxDocument is an SPDX 2.3 document, as its JSON serialisation names the fields.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Files             []spdxFile         `json:"files,omitempty"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name                  string         `json:"name"`
	SPDXID                string         `json:"SPDXID"`
	VersionInfo           string         `json:"versionInfo,omitempty"`
	Supplier              string         `json:"supplier,omitempty"`
	DownloadLocation      string         `json:"downloadLocation"`
	FilesAnalyzed         bool           `json:"filesAnalyzed"`
	VerificationCode      *spdxVerifCode `json:"packageVerificationCode,omitempty"`
	HasFiles              []string       `json:"hasFiles,omitempty"`
	LicenseConcluded      string         `json:"licenseConcluded,omitempty"`
	LicenseDeclared       string         `json:"licenseDeclared,omitempty"`
	LicenseComments       string         `json:"licenseComments,omitempty"`
	CopyrightText         string         `json:"copyrightText,omitempty"`
	Checksums             []spdxChecksum `json:"checksums,omitempty"`
	ExternalRefs          []spdxRef      `json:"externalRefs,omitempty"`
	PrimaryPackagePurpose string         `json:"primaryPackagePurpose,omitempty"`
	Comment               string         `json:"comment,omitempty"`
}

// spdxVerifCode is a package's verification code: the SHA1 of its files' SHA1s, sorted and
// concatenated (SPDX 2.3, 7.9).
type spdxVerifCode struct {
	Value string `json:"packageVerificationCodeValue"`
}

// spdxFile is a file of the document.
type spdxFile struct {
	FileName  string         `json:"fileName"`
	SPDXID    string         `json:"SPDXID"`
	Checksums []spdxChecksum `json:"checksums"`
	Comment   string         `json:"comment,omitempty"`
}

type spdxChecksum struct {
	Algorithm     string `json:"algorithm"`
	ChecksumValue string `json:"checksumValue"`
}

type spdxRef struct {
	ReferenceCategory string `json:"referenceCategory"`
	ReferenceType     string `json:"referenceType"`
	ReferenceLocator  string `json:"referenceLocator"`
}

type spdxRelationship struct {
	SPDXElementID      string `json:"spdxElementId"`
	RelationshipType   string `json:"relationshipType"`
	RelatedSPDXElement string `json:"relatedSpdxElement"`
}

const (
	spdxVersion     = "SPDX-2.3"
	spdxDataLicense = "CC0-1.0" // the only data licence SPDX allows
	spdxDocumentID  = "SPDXRef-DOCUMENT"
	spdxBinaryID    = "SPDXRef-Package-binary"
	spdxStdlibID    = "SPDXRef-Package-stdlib"
	spdxMainID      = "SPDXRef-Package-main"
	spdxCreator     = "Tool: k8s_event-tools-image"
	// spdxNamespaceBase makes a document's namespace, a URI unique to the document: the
	// project's address, the document's name and the binary's digest.
	spdxNamespaceBase = "https://github.com/coredns/k8s_event/spdx/"
)

// binaryInfo is what an SBOM describes: a binary's build information and digest.
type binaryInfo struct {
	build  *debug.BuildInfo
	sha256 string // hex
	// mainVersion is the version of the source the main module was built from, which the
	// build information cannot say ("(devel)"): for CoreDNS built in its own tree, the
	// tree's tag. Empty when not known.
	mainVersion string
}

// readBinary reads the build information and the SHA-256 digest of the Go binary file,
// whose main module was built from its source at mainVersion (empty: not known).
func readBinary(file, mainVersion string) (binaryInfo, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return binaryInfo{}, err
	}
	bin, err := parseBinary(data, mainVersion)
	if err != nil {
		return binaryInfo{}, fmt.Errorf("%s: %w", file, err)
	}
	return bin, nil
}

// parseBinary reads the build information and the SHA-256 digest of a Go binary's bytes.
func parseBinary(data []byte, mainVersion string) (binaryInfo, error) {
	bi, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		return binaryInfo{}, fmt.Errorf("no Go build information: %w", err)
	}
	sum := sha256.Sum256(data)
	return binaryInfo{build: bi, sha256: hex.EncodeToString(sum[:]), mainVersion: mainVersion}, nil
}

// newSBOM returns the SBOM, named name, of the binary bin at release version (which a
// module replaced by a directory of the checkout is built at, and the main module unless
// bin says its version), created at created.
func newSBOM(name, version string, bin binaryInfo, created time.Time) spdxDocument {
	doc := newSPDXDocument(name, bin.sha256, created)
	pkgs, rels := binaryPackages(version, bin)
	doc.Packages = pkgs
	doc.Relationships = append([]spdxRelationship{{spdxDocumentID, "DESCRIBES", spdxBinaryID}}, rels...)
	return doc
}

// newSPDXDocument is an SPDX document without elements, named name, its namespace made
// unique by digest (hex), created at created.
func newSPDXDocument(name, digest string, created time.Time) spdxDocument {
	return spdxDocument{
		SPDXVersion:       spdxVersion,
		DataLicense:       spdxDataLicense,
		SPDXID:            spdxDocumentID,
		Name:              name,
		DocumentNamespace: spdxNamespaceBase + name + "-" + digest[:16],
		CreationInfo:      spdxCreationInfo{Created: created.UTC().Format(time.RFC3339), Creators: []string{spdxCreator}},
	}
}

// binaryPackages returns the package of the binary bin at release version, the packages
// linked into it and the relationships that link them. When bin says the main module's
// version (CoreDNS's tree at its tag), the main module is one of the modules linked, at
// that version, and the binary, CoreDNS with this release's plugins, has no package URL.
func binaryPackages(version string, bin binaryInfo) ([]spdxPackage, []spdxRelationship) {
	bi := bin.build
	binaryRef := purl(bi.Main.Path, version)
	if bin.mainVersion != "" {
		binaryRef = nil
	}
	pkgs := []spdxPackage{{
		Name:                  bi.Path,
		SPDXID:                spdxBinaryID,
		VersionInfo:           version,
		DownloadLocation:      "NOASSERTION",
		Checksums:             []spdxChecksum{{Algorithm: "SHA256", ChecksumValue: bin.sha256}},
		ExternalRefs:          binaryRef,
		PrimaryPackagePurpose: "APPLICATION",
		Comment:               buildComment(bi),
	}, {
		Name:                  "stdlib",
		SPDXID:                spdxStdlibID,
		VersionInfo:           bi.GoVersion,
		DownloadLocation:      "NOASSERTION",
		ExternalRefs:          purl("stdlib", bi.GoVersion),
		PrimaryPackagePurpose: "LIBRARY",
		Comment:               "the Go standard library and runtime",
	}}
	rels := []spdxRelationship{{spdxBinaryID, "STATIC_LINK", spdxStdlibID}}
	if bin.mainVersion != "" {
		pkgs = append(pkgs, spdxPackage{
			Name:                  bi.Main.Path,
			SPDXID:                spdxMainID,
			VersionInfo:           bin.mainVersion,
			DownloadLocation:      "NOASSERTION",
			ExternalRefs:          purl(bi.Main.Path, bin.mainVersion),
			PrimaryPackagePurpose: "LIBRARY",
			Comment:               "the main module: its source at this version, built with the plugins of the release",
		})
		rels = append(rels, spdxRelationship{spdxBinaryID, "STATIC_LINK", spdxMainID})
	}
	for i, m := range bi.Deps {
		p := modulePackage(m, version)
		p.SPDXID = fmt.Sprintf("SPDXRef-Package-module-%d", i+1)
		pkgs = append(pkgs, p)
		rels = append(rels, spdxRelationship{spdxBinaryID, "STATIC_LINK", p.SPDXID})
	}
	return pkgs, rels
}

// linkedModules are the packages, name and version, that the SBOM of bin at release
// version links into it: the Go standard library, the main module when its version is
// known, and every module compiled in.
func linkedModules(bin binaryInfo, release string) map[string]string {
	want := map[string]string{"stdlib": bin.build.GoVersion}
	if bin.mainVersion != "" {
		want[bin.build.Main.Path] = bin.mainVersion
	}
	for _, m := range bin.build.Deps {
		p := modulePackage(m, release)
		want[p.Name] = p.VersionInfo
	}
	return want
}

// modulePackage is the package of a module compiled in: named by its path, at the version
// the binary was built with: the replacement's, or the release's for a replacement by a
// directory.
func modulePackage(m *debug.Module, release string) spdxPackage {
	p := spdxPackage{Name: m.Path, VersionInfo: m.Version, DownloadLocation: "NOASSERTION", PrimaryPackagePurpose: "LIBRARY"}
	sum := m.Sum
	if r := m.Replace; r != nil {
		switch {
		case isDirectory(r.Path): // the release's own source
			p.VersionInfo = release
			p.Comment = "built from the directory " + r.Path + " of the release's source"
		case r.Path == m.Path:
			p.VersionInfo = r.Version
		default:
			p.VersionInfo = r.Version
			p.Comment = "replaced by " + r.Path + " " + r.Version
		}
		sum = r.Sum
	}
	if sum != "" {
		p.Comment = strings.TrimPrefix(p.Comment+"; go.sum "+sum, "; ")
	}
	p.ExternalRefs = purl(m.Path, p.VersionInfo)
	return p
}

// isDirectory reports whether a go.mod replacement path is a directory, not a module:
// go.mod writes one as a path that starts with ./, ../ or /.
func isDirectory(path string) bool {
	return path == "." || path == ".." || strings.HasPrefix(path, "./") || strings.HasPrefix(path, "../") || strings.HasPrefix(path, "/")
}

// purl is the package URL of a Go module (or of stdlib) at version.
func purl(path, version string) []spdxRef {
	if version == "" {
		return nil
	}
	return []spdxRef{{
		ReferenceCategory: "PACKAGE-MANAGER",
		ReferenceType:     "purl",
		ReferenceLocator:  "pkg:golang/" + path + "@" + strings.ReplaceAll(version, "+", "%2B"),
	}}
}

// buildComment names the Go version and the build settings of bi.
func buildComment(bi *debug.BuildInfo) string {
	var b strings.Builder
	fmt.Fprintf(&b, "built by %s from module %s", bi.GoVersion, bi.Main.Path)
	if len(bi.Settings) > 0 {
		b.WriteString("; build settings:")
		for _, s := range bi.Settings {
			fmt.Fprintf(&b, " %s=%s", s.Key, s.Value)
		}
	}
	return b.String()
}

// writeSBOM writes the SBOM of a binary, as make release-binaries runs it beside each
// archive.
func writeSBOM(args []string) error {
	fs := flag.NewFlagSet("sbom", flag.ContinueOnError)
	binary := fs.String("binary", "", "the Go binary")
	name := fs.String("name", "", "the document's name: the archive's, without .tar.gz")
	version := fs.String("version", "", "the release: vMAJOR.MINOR.PATCH[-SUFFIX]")
	epoch := fs.Int64("epoch", 0, "the document's creation time, in seconds since 1970 (SOURCE_DATE_EPOCH)")
	out := fs.String("out", "", "the SPDX JSON file to write")
	mainVersion := fs.String("main-version", "", "the version of the main module's source (CoreDNS's tag, for a build in its tree)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binary == "" || *name == "" || *out == "" || fs.NArg() > 0 {
		return errors.New("sbom: want -binary FILE -name NAME -version vX.Y.Z -out FILE")
	}
	if !semver.MatchString(*version) {
		return fmt.Errorf("sbom: version %q: want vMAJOR.MINOR.PATCH, or vMAJOR.MINOR.PATCH-SUFFIX", *version)
	}
	bin, err := readBinary(*binary, *mainVersion)
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(newSBOM(*name, *version, bin, time.Unix(*epoch, 0)), "", "  ")
	if err != nil {
		return err
	}
	return writeAtomically(*out, func(f *os.File) error {
		_, err := f.Write(append(data, '\n'))
		return err
	})
}
