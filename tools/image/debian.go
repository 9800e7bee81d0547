package main

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// debPackage is a Debian package as its dpkg status stanza and copyright file describe it.
type debPackage struct {
	name, version, arch, maintainer string
	// licenses are the short names the copyright file's License fields give (DEP-5), in
	// the order first seen.
	licenses []string
}

// parseDebStatus reads the fields of one dpkg status stanza (dpkg-query -s NAME).
func parseDebStatus(data []byte) (debPackage, error) {
	fields := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break // the stanza ends
		}
		if line[0] == ' ' || line[0] == '\t' {
			continue // a continuation of the field before (Description)
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok {
			return debPackage{}, fmt.Errorf("dpkg status: line %q is not a field", line)
		}
		fields[key] = strings.TrimSpace(value)
	}
	p := debPackage{name: fields["Package"], version: fields["Version"], arch: fields["Architecture"], maintainer: fields["Maintainer"]}
	if p.name == "" || p.version == "" || p.arch == "" {
		return debPackage{}, fmt.Errorf("dpkg status: Package %q, Version %q, Architecture %q: want all three", p.name, p.version, p.arch)
	}
	return p, nil
}

// debLicenses returns the distinct License short names of a machine-readable copyright
// file (DEP-5), in order; none for a file in another form.
func debLicenses(copyright []byte) []string {
	var names []string
	for _, line := range strings.Split(string(copyright), "\n") {
		name, ok := strings.CutPrefix(line, "License:")
		name = strings.TrimSpace(name)
		if ok && name != "" && !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	return names
}

// debToSPDX maps the DEP-5 short names this project meets to SPDX licence identifiers.
var debToSPDX = map[string]string{
	"GPL-2":   "GPL-2.0-only",
	"GPL-2+":  "GPL-2.0-or-later",
	"GPL-3+":  "GPL-3.0-or-later",
	"MPL-2.0": "MPL-2.0",
	"Expat":   "MIT",
}

// spdxLicense is the SPDX expression of p's licences, all of them applying to parts of the
// package: NOASSERTION when the copyright file names none or one without a known SPDX
// identifier (licenseComments then says what Debian gives).
func (p debPackage) spdxLicense() string {
	if len(p.licenses) == 0 {
		return "NOASSERTION"
	}
	ids := make([]string, len(p.licenses))
	for i, l := range p.licenses {
		id, ok := debToSPDX[l]
		if !ok {
			return "NOASSERTION"
		}
		ids[i] = id
	}
	return strings.Join(ids, " AND ")
}

// debVendor finds the distribution from the maintainer's address, for the package URL:
// Debian's and Ubuntu's packages are the ones a build machine here has.
var debVendor = regexp.MustCompile(`@(?:[a-z.]+\.)?(debian|ubuntu)\.(?:org|com)>`)

// purlVersion escapes a Debian version for a package URL (an epoch's colon, a plus).
var purlVersion = strings.NewReplacer(":", "%3A", "+", "%2B")

// distribution is the distribution p comes from, debian or ubuntu, or "" when not known.
func (p debPackage) distribution() string {
	if m := debVendor.FindStringSubmatch(p.maintainer); m != nil {
		return m[1]
	}
	return ""
}

// supplier is p's SPDX supplier, the distribution, or NOASSERTION.
func (p debPackage) supplier() string {
	switch p.distribution() {
	case "debian":
		return "Organization: Debian"
	case "ubuntu":
		return "Organization: Ubuntu"
	}
	return "NOASSERTION"
}

// purl is p's package URL (pkg:deb), or none when the distribution is not known.
func (p debPackage) purl() []spdxRef {
	d := p.distribution()
	if d == "" {
		return nil
	}
	return []spdxRef{{
		ReferenceCategory: "PACKAGE-MANAGER",
		ReferenceType:     "purl",
		ReferenceLocator:  "pkg:deb/" + d + "/" + p.name + "@" + purlVersion.Replace(p.version) + "?arch=" + p.arch,
	}}
}
