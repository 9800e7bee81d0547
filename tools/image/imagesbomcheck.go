package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/spdx/tools-golang/json"
	"github.com/spdx/tools-golang/spdx"
	"github.com/spdx/tools-golang/spdx/v2/common"
	"github.com/spdx/tools-golang/spdxlib"
)

// checkImageSBOM checks that data is an SPDX 2.3 JSON document that SPDX's own Go library
// (spdx/tools-golang) reads and validates, and that it describes img whole: the image's
// package, by its digest, holding every regular file of the image with its digests and no
// other; its Go binary with exactly the modules compiled into it, each of required among
// them; each Debian package the image carries the status of, at its version and with its
// copyright file's licences, and the files generated from it. It returns a summary.
func checkImageSBOM(data []byte, img platformImageInfo, required []string) (string, error) {
	doc, err := json.Read(bytes.NewReader(data))
	if err != nil {
		return "", fmt.Errorf("spdx/tools-golang cannot read it: %w", err)
	}
	if doc.SPDXVersion != spdxVersion || doc.DataLicense != spdxDataLicense {
		return "", fmt.Errorf("version %q, data licence %q: want %s, %s", doc.SPDXVersion, doc.DataLicense, spdxVersion, spdxDataLicense)
	}
	if err := spdxlib.ValidateDocument(doc); err != nil {
		return "", fmt.Errorf("spdx/tools-golang's validation: %w", err)
	}
	described, err := spdxlib.GetDescribedPackageIDs(doc)
	if err != nil || len(described) != 1 || described[0] != elementID(spdxImageID) {
		return "", fmt.Errorf("the document describes %v (%v), want the image's package %s alone", described, err, spdxImageID)
	}
	pkgs := map[common.ElementID]*spdx.Package{}
	for _, p := range doc.Packages {
		pkgs[p.PackageSPDXIdentifier] = p
	}
	related := func(a common.ElementID, rel string) map[common.ElementID]bool {
		ids := map[common.ElementID]bool{}
		for _, r := range doc.Relationships {
			if r.RefA.ElementRefID == a && r.Relationship == rel {
				ids[r.RefB.ElementRefID] = true
			}
		}
		return ids
	}
	image := pkgs[elementID(spdxImageID)]
	if !hasPURL(image, imagePURL(img)) {
		return "", fmt.Errorf("the image's package has no package URL %s: not this image", imagePURL(img))
	}

	ids, sha1s, err := checkImageFiles(doc, img, related(elementID(spdxImageID), "CONTAINS"))
	if err != nil {
		return "", err
	}
	if code := verificationCode(sha1s); image.PackageVerificationCode == nil || image.PackageVerificationCode.Value != code {
		return "", fmt.Errorf("the image's package verification code is %v, want %s", image.PackageVerificationCode, code)
	}

	summary := []string{fmt.Sprintf("SPDX 2.3, the %s image %s, %d files", img.platform, img.digest, len(img.files))}
	for _, f := range img.files {
		bin, err := parseBinary(f.data, img.mainVersion)
		if err != nil {
			continue
		}
		binary := pkgs[elementID(spdxBinaryID)]
		if binary == nil || !related(elementID(spdxBinaryID), "CONTAINS")[ids[f.path]] ||
			!hasChecksum(binary.PackageChecksums, common.SHA256, bin.sha256) {
			return "", fmt.Errorf("no package %s holding /%s with its SHA256 %s", spdxBinaryID, f.path, bin.sha256)
		}
		linked := map[string]string{}
		for id := range related(elementID(spdxBinaryID), "STATIC_LINK") {
			linked[pkgs[id].PackageName] = pkgs[id].PackageVersion
		}
		want := linkedModules(bin, binary.PackageVersion)
		if err := sameModules(want, linked); err != nil {
			return "", fmt.Errorf("/%s: %w", f.path, err)
		}
		for _, m := range required {
			if _, ok := want[m]; !ok {
				return "", fmt.Errorf("/%s has no %s, which the SBOM must name", f.path, m)
			}
		}
		summary = append(summary, fmt.Sprintf("/%s with %d modules", f.path, len(bin.build.Deps)))
	}

	debs, err := imageDebPackages(img.files)
	if err != nil {
		return "", err
	}
	for _, d := range debs {
		id := elementID(spdxDebIDPrefix + d.name)
		p := pkgs[id]
		if p == nil || p.PackageName != d.name || p.PackageVersion != d.version || p.PackageLicenseDeclared != d.spdxLicense() || !related(elementID(spdxImageID), "CONTAINS")[id] {
			return "", fmt.Errorf("the image carries the Debian package %s %s (%s); the SBOM has %s", d.name, d.version, d.spdxLicense(), describePackage(p))
		}
		summary = append(summary, fmt.Sprintf("%s %s (%s)", d.name, d.version, d.spdxLicense()))
	}
	for _, f := range img.files {
		pkg, ok := generatedFrom[f.path]
		if ok && !related(ids[f.path], "GENERATED_FROM")[elementID(spdxDebIDPrefix+pkg)] {
			return "", fmt.Errorf("/%s is not generated from the package %s in the SBOM", f.path, pkg)
		}
	}
	return strings.Join(summary, ", "), nil
}

// checkImageFiles checks that the document's files are the image's regular files, each
// with its SHA1 and SHA256 and contained in the image's package, and returns their SPDX
// identifiers by path and their SHA1s.
func checkImageFiles(doc *spdx.Document, img platformImageInfo, contained map[common.ElementID]bool) (map[string]common.ElementID, []string, error) {
	byName := map[string]*spdx.File{}
	for _, f := range doc.Files {
		byName[f.FileName] = f
	}
	ids := map[string]common.ElementID{}
	var sha1s []string
	for _, f := range img.files {
		sf := byName["/"+f.path]
		switch {
		case sf == nil:
			return nil, nil, fmt.Errorf("the image's file /%s is not in the SBOM", f.path)
		case !hasChecksum(sf.Checksums, common.SHA1, f.sha1Hex()) || !hasChecksum(sf.Checksums, common.SHA256, f.sha256Hex()):
			return nil, nil, fmt.Errorf("/%s: the SBOM has checksums %v, not the image's file's SHA1 %s and SHA256 %s", f.path, sf.Checksums, f.sha1Hex(), f.sha256Hex())
		case !contained[sf.FileSPDXIdentifier]:
			return nil, nil, fmt.Errorf("/%s is not in the image's package", f.path)
		}
		ids[f.path] = sf.FileSPDXIdentifier
		sha1s = append(sha1s, f.sha1Hex())
		delete(byName, "/"+f.path)
	}
	for name := range byName {
		return nil, nil, fmt.Errorf("the SBOM has a file %s, which the image does not", name)
	}
	return ids, sha1s, nil
}

// elementID is an SPDX identifier as spdx/tools-golang holds it, without SPDXRef-.
func elementID(id string) common.ElementID {
	return common.ElementID(strings.TrimPrefix(id, "SPDXRef-"))
}

func hasChecksum(sums []common.Checksum, alg common.ChecksumAlgorithm, value string) bool {
	for _, c := range sums {
		if c.Algorithm == alg && c.Value == value {
			return true
		}
	}
	return false
}

func hasPURL(p *spdx.Package, purl string) bool {
	for _, r := range p.PackageExternalReferences {
		if r.RefType == "purl" && r.Locator == purl {
			return true
		}
	}
	return false
}

func describePackage(p *spdx.Package) string {
	if p == nil {
		return "none"
	}
	return fmt.Sprintf("%s %s (%s)", p.PackageName, p.PackageVersion, p.PackageLicenseDeclared)
}

// imageSBOMCheck checks an image's SBOM (image-sbom) against that platform's image in the
// tar: make release-check and make sign-check.
func imageSBOMCheck(args []string) error {
	fs := flag.NewFlagSet("image-sbom-check", flag.ContinueOnError)
	file := fs.String("sbom", "", "the SPDX JSON file")
	tarFile := fs.String("tar", "", "the OCI image layout tar it must describe")
	platform := fs.String("platform", "", "OS/ARCH of the image")
	mainVersion := fs.String("main-version", "", "the version of the Go binary's main module's source (CoreDNS's tag)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || *tarFile == "" || *platform == "" || fs.NArg() > 0 {
		return errors.New("image-sbom-check: want -sbom FILE -tar FILE -platform OS/ARCH")
	}
	data, err := os.ReadFile(*file)
	if err != nil {
		return err
	}
	img, err := readPlatformImage(*tarFile, *platform, *mainVersion)
	if err != nil {
		return err
	}
	summary, err := checkImageSBOM(data, img, sbomRequired)
	if err != nil {
		return fmt.Errorf("%s, of %s %s: %w", *file, *tarFile, *platform, err)
	}
	fmt.Printf("%s: %s\n", *file, summary)
	return nil
}
