package main

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// An image's SBOM is an SPDX 2.3 JSON document that describes one platform's image: every
// regular file of its layers, with its SHA1 and SHA256; the Go binary among them as the
// archive's SBOM describes it (sbom.go: the modules linked into it); each Debian package
// whose dpkg status stanza the image carries (status.d), with its version and the
// licences of its copyright file, and the files generated from it (the CA bundle).

const (
	spdxImageID      = "SPDXRef-Package-image"
	spdxDebIDPrefix  = "SPDXRef-Package-deb-"
	spdxFileIDPrefix = "SPDXRef-File-"
)

// generatedFrom names, for a file that no package ships but a package's scripts make
// from its files, that package: the CA bundle, update-ca-certificates' output.
var generatedFrom = map[string]string{caBundlePath: caPackageName}

// platformImageInfo is what an image's SBOM describes: one platform's image, its digest
// and files, and the version of the source its Go binary's main module was built from.
type platformImageInfo struct {
	platform    string // OS/ARCH
	digest      v1.Hash
	files       []imageFile
	mainVersion string
}

// readPlatformImage reads the image of platform OS/ARCH in the OCI layout tar file.
func readPlatformImage(file, platform, mainVersion string) (platformImageInfo, error) {
	idx, done, err := openLayoutTar(file)
	if err != nil {
		return platformImageInfo{}, err
	}
	defer done()
	img, err := platformImage(idx, platform)
	if err != nil {
		return platformImageInfo{}, err
	}
	digest, err := img.Digest()
	if err != nil {
		return platformImageInfo{}, err
	}
	files, err := imageFiles(img)
	if err != nil {
		return platformImageInfo{}, err
	}
	return platformImageInfo{platform: platform, digest: digest, files: files, mainVersion: mainVersion}, nil
}

// fileID is the SPDX identifier of the image's i-th file.
func fileID(i int) string { return fmt.Sprintf("%s%d", spdxFileIDPrefix, i+1) }

// imagePURL is the package URL of a platform's image, by its digest.
func imagePURL(img platformImageInfo) string {
	_, arch, _ := strings.Cut(img.platform, "/")
	return "pkg:oci/coredns@" + img.digest.Algorithm + "%3A" + img.digest.Hex + "?arch=" + arch
}

// newImageSBOM returns the SBOM, named name, of img at release version, created at
// created.
func newImageSBOM(name, version string, img platformImageInfo, created time.Time) (spdxDocument, error) {
	doc := newSPDXDocument(name, img.digest.Hex, created)
	image := spdxPackage{
		Name:                  name,
		SPDXID:                spdxImageID,
		VersionInfo:           version,
		DownloadLocation:      "NOASSERTION",
		FilesAnalyzed:         true,
		LicenseConcluded:      "NOASSERTION",
		LicenseDeclared:       "NOASSERTION",
		CopyrightText:         "NOASSERTION",
		ExternalRefs:          []spdxRef{{ReferenceCategory: "PACKAGE-MANAGER", ReferenceType: "purl", ReferenceLocator: imagePURL(img)}},
		PrimaryPackagePurpose: "CONTAINER",
		Comment:               fmt.Sprintf("the %s image %s, every regular file of its layers", img.platform, img.digest),
	}
	doc.Relationships = append(doc.Relationships, spdxRelationship{spdxDocumentID, "DESCRIBES", spdxImageID})
	ids := map[string]string{} // file path: SPDX ID
	var sha1s []string
	for i, f := range img.files {
		id := fileID(i)
		ids[f.path] = id
		sha1s = append(sha1s, f.sha1Hex())
		doc.Files = append(doc.Files, spdxFile{
			FileName:  "/" + f.path,
			SPDXID:    id,
			Checksums: []spdxChecksum{{Algorithm: "SHA1", ChecksumValue: f.sha1Hex()}, {Algorithm: "SHA256", ChecksumValue: f.sha256Hex()}},
		})
		image.HasFiles = append(image.HasFiles, id)
	}
	image.VerificationCode = &spdxVerifCode{Value: verificationCode(sha1s)}
	doc.Packages = append(doc.Packages, image)

	var binaries int
	for _, f := range img.files {
		bin, err := parseBinary(f.data, img.mainVersion)
		if err != nil {
			continue // not a Go binary
		}
		if binaries++; binaries > 1 {
			return spdxDocument{}, fmt.Errorf("%s is a second Go binary: an image's SBOM describes one", f.path)
		}
		pkgs, rels := binaryPackages(version, bin)
		doc.Packages = append(doc.Packages, pkgs...)
		doc.Relationships = append(doc.Relationships,
			spdxRelationship{spdxImageID, "CONTAINS", spdxBinaryID},
			spdxRelationship{spdxBinaryID, "CONTAINS", ids[f.path]})
		doc.Relationships = append(doc.Relationships, rels...)
	}

	debs, err := imageDebPackages(img.files)
	if err != nil {
		return spdxDocument{}, err
	}
	for _, d := range debs {
		id := spdxDebIDPrefix + d.name
		doc.Packages = append(doc.Packages, spdxPackage{
			Name:             d.name,
			SPDXID:           id,
			VersionInfo:      d.version,
			Supplier:         d.supplier(),
			DownloadLocation: "NOASSERTION",
			LicenseConcluded: "NOASSERTION",
			LicenseDeclared:  d.spdxLicense(),
			LicenseComments:  "Debian's copyright file gives: " + strings.Join(d.licenses, ", "),
			CopyrightText:    "NOASSERTION",
			ExternalRefs:     d.purl(),
			Comment:          "a Debian package of the build machine, its maintainer " + d.maintainer,
		})
		doc.Relationships = append(doc.Relationships,
			spdxRelationship{spdxImageID, "CONTAINS", id},
			spdxRelationship{ids[dpkgStatusDir+d.name], "METAFILE_OF", id})
		if c, ok := ids[fmt.Sprintf(debCopyrightFmt, d.name)]; ok {
			doc.Relationships = append(doc.Relationships, spdxRelationship{id, "CONTAINS", c})
		}
	}
	for _, f := range img.files {
		pkg, ok := generatedFrom[f.path]
		if !ok {
			continue
		}
		if !slices.ContainsFunc(debs, func(d debPackage) bool { return d.name == pkg }) {
			return spdxDocument{}, fmt.Errorf("%s is made from the package %s, whose status the image does not carry (%s%s)", f.path, pkg, dpkgStatusDir, pkg)
		}
		doc.Relationships = append(doc.Relationships, spdxRelationship{ids[f.path], "GENERATED_FROM", spdxDebIDPrefix + pkg})
	}
	return doc, nil
}

// imageDebPackages reads the Debian packages whose status stanzas the image carries, each
// with the licences of its copyright file when the image has it.
func imageDebPackages(files []imageFile) ([]debPackage, error) {
	byPath := map[string][]byte{}
	for _, f := range files {
		byPath[f.path] = f.data
	}
	var debs []debPackage
	for _, f := range files {
		dir, base := path.Split(f.path)
		if dir != dpkgStatusDir {
			continue
		}
		d, err := parseDebStatus(f.data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.path, err)
		}
		if d.name != base {
			return nil, fmt.Errorf("%s holds the status of %s", f.path, d.name)
		}
		d.licenses = debLicenses(byPath[fmt.Sprintf(debCopyrightFmt, d.name)])
		debs = append(debs, d)
	}
	return debs, nil
}

// verificationCode is SPDX's package verification code of files with these SHA1s (hex).
func verificationCode(sha1s []string) string {
	sorted := append([]string(nil), sha1s...)
	sort.Strings(sorted)
	sum := sha1.Sum([]byte(strings.Join(sorted, "")))
	return hex.EncodeToString(sum[:])
}

// writeImageSBOM writes the SBOM of one platform's image in a tar make image wrote: the
// release attests it on that image, make release-check and make sign-check check it.
func writeImageSBOM(args []string) error {
	fs := flag.NewFlagSet("image-sbom", flag.ContinueOnError)
	file := fs.String("tar", "", "the OCI image layout tar make image wrote")
	platform := fs.String("platform", "", "OS/ARCH of the image to describe")
	name := fs.String("name", "", "the document's name")
	version := fs.String("version", "", "the release: vMAJOR.MINOR.PATCH[-SUFFIX]")
	mainVersion := fs.String("main-version", "", "the version of the Go binary's main module's source (CoreDNS's tag)")
	epoch := fs.Int64("epoch", 0, "the document's creation time, in seconds since 1970 (SOURCE_DATE_EPOCH)")
	out := fs.String("out", "", "the SPDX JSON file to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || *platform == "" || *name == "" || *out == "" || fs.NArg() > 0 {
		return errors.New("image-sbom: want -tar FILE -platform OS/ARCH -name NAME -version vX.Y.Z -out FILE")
	}
	if !semver.MatchString(*version) {
		return fmt.Errorf("image-sbom: version %q: want vMAJOR.MINOR.PATCH, or vMAJOR.MINOR.PATCH-SUFFIX", *version)
	}
	img, err := readPlatformImage(*file, *platform, *mainVersion)
	if err != nil {
		return err
	}
	doc, err := newImageSBOM(*name, *version, img, time.Unix(*epoch, 0))
	if err != nil {
		return err
	}
	data, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return err
	}
	return writeAtomically(*out, func(f *os.File) error {
		_, err := f.Write(append(data, '\n'))
		return err
	})
}
