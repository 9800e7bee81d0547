package main

// A dpkg status stanza and a DEP-5 copyright file of the CA bundle's package, in the form
// dpkg-query -s and Debian's ca-certificates give them.
const (
	fakeCAStatus = `Package: ca-certificates
Status: install ok installed
Priority: optional
Section: misc
Installed-Size: 384
Maintainer: Julien Cristau <jcristau@debian.org>
Architecture: all
Multi-Arch: foreign
Version: 20230311+deb12u1
Depends: openssl (>= 1.1.1), debconf (>= 0.5) | debconf-2.0
Description: Common CA certificates
 Contains the certificate authorities shipped with Mozilla's browser.
 .
 Please note that Debian can neither confirm nor deny whether the
`
	fakeCACopyright = `Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/

Files: debian/*
Copyright: 2003 Fumitoshi UKAI
License: GPL-2+
 This program is free software.

Files: mozilla/certdata.txt
Copyright: Mozilla Contributors
License: MPL-2.0
 This Source Code Form is subject to the terms of the Mozilla Public License, v. 2.0.
`
)
