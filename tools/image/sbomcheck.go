package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"
)

// sbomRequired are the modules the release's SBOM must name, at the versions compiled in.
var sbomRequired = []string{"github.com/coredns/coredns", "k8s.io/client-go"}

// spdxID is the form of an SPDX element's identifier.
var spdxID = regexp.MustCompile(`^SPDXRef-[A-Za-z0-9.-]+$`)

// Values SPDX 2.3 allows for the enumerated fields this project writes.
var (
	spdxChecksumAlgorithms = []string{"SHA1", "SHA224", "SHA256", "SHA384", "SHA512", "SHA3-256", "SHA3-384", "SHA3-512",
		"BLAKE2b-256", "BLAKE2b-384", "BLAKE2b-512", "BLAKE3", "MD2", "MD4", "MD5", "MD6", "ADLER32"}
	spdxPurposes = []string{"APPLICATION", "FRAMEWORK", "LIBRARY", "CONTAINER", "OPERATING-SYSTEM", "DEVICE",
		"FIRMWARE", "SOURCE", "ARCHIVE", "FILE", "INSTALL", "OTHER"}
	spdxRefCategories = []string{"SECURITY", "PACKAGE-MANAGER", "PERSISTENT-ID", "OTHER"}
	// spdxLinks are the relationship types this checker knows; the SBOM uses two of them.
	spdxLinks = []string{"DESCRIBES", "DESCRIBED_BY", "CONTAINS", "CONTAINED_BY", "DEPENDS_ON", "DEPENDENCY_OF",
		"STATIC_LINK", "DYNAMIC_LINK", "GENERATED_FROM", "GENERATES", "OTHER"}
)

// checkSBOM checks that data is an SPDX 2.3 JSON document of the binary bin as newSBOM
// writes one: the fields SPDX requires, well formed; one package described, whose SHA-256
// is bin's; linked to it, exactly the modules compiled into bin, each at its version, and
// the Go standard library at bin's Go version; and among them every module of required.
// It returns a one-line summary.
func checkSBOM(data []byte, bin binaryInfo, required []string) (string, error) {
	var doc spdxDocument
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&doc); err != nil {
		return "", fmt.Errorf("not an SPDX JSON document as this project writes one: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return "", errors.New("not an SPDX JSON document: data after the document")
	}
	if err := checkSPDX(doc); err != nil {
		return "", err
	}

	byID := map[string]spdxPackage{}
	for _, p := range doc.Packages {
		byID[p.SPDXID] = p
	}
	var described []string
	linked := map[string]string{} // name: version of the packages the binary links
	for _, r := range doc.Relationships {
		switch {
		case r.SPDXElementID == spdxDocumentID && r.RelationshipType == "DESCRIBES":
			described = append(described, r.RelatedSPDXElement)
		case r.SPDXElementID == spdxBinaryID && r.RelationshipType == "STATIC_LINK":
			p := byID[r.RelatedSPDXElement]
			if _, dup := linked[p.Name]; dup {
				return "", fmt.Errorf("package %s is linked twice", p.Name)
			}
			linked[p.Name] = p.VersionInfo
		}
	}
	if !slices.Equal(described, []string{spdxBinaryID}) {
		return "", fmt.Errorf("the document describes %q, want the binary's package %s alone", described, spdxBinaryID)
	}
	binary := byID[spdxBinaryID]
	if !slices.Contains(binary.Checksums, spdxChecksum{Algorithm: "SHA256", ChecksumValue: bin.sha256}) {
		return "", fmt.Errorf("the described package %s has checksums %v, want the binary's SHA256 %s", binary.Name, binary.Checksums, bin.sha256)
	}

	want := linkedModules(bin, binary.VersionInfo)
	if err := sameModules(want, linked); err != nil {
		return "", err
	}
	var names []string
	for _, m := range required {
		v, ok := want[m]
		if !ok {
			return "", fmt.Errorf("the binary has no %s, which the SBOM must name", m)
		}
		names = append(names, m+" "+v)
	}
	return fmt.Sprintf("SPDX 2.3, %s (sha256:%s) built by %s, %d modules, %s", binary.Name, bin.sha256, bin.build.GoVersion,
		len(bin.build.Deps), strings.Join(names, ", ")), nil
}

// sameModules checks that an SBOM links the modules a binary has (name: version), no more.
func sameModules(binary, sbom map[string]string) error {
	for name, v := range binary {
		if got, ok := sbom[name]; !ok || got != v {
			return fmt.Errorf("the binary has %s %s; the SBOM has %s", name, v, orNone(got, ok))
		}
	}
	for name, v := range sbom {
		if _, ok := binary[name]; !ok {
			return fmt.Errorf("the SBOM has %s %s, which the binary does not", name, v)
		}
	}
	return nil
}

func orNone(v string, ok bool) string {
	if !ok {
		return "none"
	}
	return v
}

// checkSPDX checks what SPDX 2.3 requires of doc's fields.
func checkSPDX(doc spdxDocument) error {
	switch {
	case doc.SPDXVersion != spdxVersion:
		return fmt.Errorf("spdxVersion %q, want %q", doc.SPDXVersion, spdxVersion)
	case doc.DataLicense != spdxDataLicense:
		return fmt.Errorf("dataLicense %q, want %q", doc.DataLicense, spdxDataLicense)
	case doc.SPDXID != spdxDocumentID:
		return fmt.Errorf("SPDXID %q, want %q", doc.SPDXID, spdxDocumentID)
	case doc.Name == "":
		return errors.New("the document has no name")
	case len(doc.CreationInfo.Creators) == 0:
		return errors.New("creationInfo has no creators")
	case len(doc.Packages) == 0:
		return errors.New("the document has no packages")
	}
	if u, err := url.Parse(doc.DocumentNamespace); err != nil || !u.IsAbs() || u.Fragment != "" || strings.Contains(doc.DocumentNamespace, "#") {
		return fmt.Errorf("documentNamespace %q: want an absolute URI without #", doc.DocumentNamespace)
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", doc.CreationInfo.Created); err != nil {
		return fmt.Errorf("creationInfo.created %q: want YYYY-MM-DDThh:mm:ssZ", doc.CreationInfo.Created)
	}
	for _, c := range doc.CreationInfo.Creators {
		if !strings.HasPrefix(c, "Tool: ") && !strings.HasPrefix(c, "Person: ") && !strings.HasPrefix(c, "Organization: ") {
			return fmt.Errorf("creator %q: want Tool:, Person: or Organization:", c)
		}
	}
	ids := map[string]bool{doc.SPDXID: true}
	for _, p := range doc.Packages {
		if err := checkPackage(p); err != nil {
			return fmt.Errorf("package %q: %w", p.Name, err)
		}
		if ids[p.SPDXID] {
			return fmt.Errorf("SPDXID %s is used twice", p.SPDXID)
		}
		ids[p.SPDXID] = true
	}
	for _, r := range doc.Relationships {
		if !ids[r.SPDXElementID] || !ids[r.RelatedSPDXElement] || !slices.Contains(spdxLinks, r.RelationshipType) {
			return fmt.Errorf("relationship %s %s %s: want a known type between elements of the document", r.SPDXElementID, r.RelationshipType, r.RelatedSPDXElement)
		}
	}
	return nil
}

// checkPackage checks what SPDX 2.3 requires of a package's fields.
func checkPackage(p spdxPackage) error {
	switch {
	case p.Name == "":
		return errors.New("no name")
	case !spdxID.MatchString(p.SPDXID):
		return fmt.Errorf("SPDXID %q: want SPDXRef-[A-Za-z0-9.-]+", p.SPDXID)
	case p.DownloadLocation == "":
		return errors.New("no downloadLocation")
	case p.FilesAnalyzed:
		return errors.New("filesAnalyzed without files or a packageVerificationCode")
	case p.PrimaryPackagePurpose != "" && !slices.Contains(spdxPurposes, p.PrimaryPackagePurpose):
		return fmt.Errorf("primaryPackagePurpose %q is not one of SPDX's", p.PrimaryPackagePurpose)
	}
	for _, c := range p.Checksums {
		if !slices.Contains(spdxChecksumAlgorithms, c.Algorithm) || c.ChecksumValue == "" {
			return fmt.Errorf("checksum %s %q", c.Algorithm, c.ChecksumValue)
		}
	}
	for _, r := range p.ExternalRefs {
		if !slices.Contains(spdxRefCategories, r.ReferenceCategory) || r.ReferenceType == "" || r.ReferenceLocator == "" {
			return fmt.Errorf("externalRef %+v", r)
		}
	}
	return nil
}

// sbomCheck checks an SBOM make release-binaries wrote against a binary, the image's for
// a linux platform (release-check).
func sbomCheck(args []string) error {
	fs := flag.NewFlagSet("sbom-check", flag.ContinueOnError)
	file := fs.String("sbom", "", "the SPDX JSON file")
	binary := fs.String("binary", "", "the Go binary it must describe")
	mainVersion := fs.String("main-version", "", "the version of the binary's main module's source (CoreDNS's tag, for a build in its tree)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || *binary == "" || fs.NArg() > 0 {
		return errors.New("sbom-check: want -sbom FILE -binary FILE")
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	bin, err := readBinary(*binary, *mainVersion)
	if err != nil {
		return err
	}
	summary, err := checkSBOM(data, bin, sbomRequired)
	if err != nil {
		return fmt.Errorf("%s, of %s: %w", *file, *binary, err)
	}
	fmt.Printf("%s: %s\n", *file, summary)
	return nil
}
