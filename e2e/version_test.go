package e2e

import (
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"sync"
	"testing"
)

// binaryVersion is the CoreDNS version of the binary under test (make matrix runs the
// suite against each supported one), read once from `coredns -version`.
var binaryVersion struct {
	once       sync.Once
	majorMinor [2]int
	name       string // 1.14.6
	err        error
}

var versionBanner = regexp.MustCompile(`CoreDNS-(\d+)\.(\d+)\.(\d+)`)

// coreDNSBefore reports whether the CoreDNS under test is older than major.minor: a test
// of a CoreDNS behaviour that came later says so.
func coreDNSBefore(t *testing.T, major, minor int) bool {
	t.Helper()
	requireSuite(t)
	v := &binaryVersion
	v.once.Do(func() {
		out, err := exec.Command(suite.paths.CoreDNS, "-version").Output()
		m := versionBanner.FindStringSubmatch(string(out))
		if err != nil || m == nil {
			v.err = fmt.Errorf("%s -version: %v, %q: no CoreDNS-X.Y.Z", suite.paths.CoreDNS, err, out)
			return
		}
		v.majorMinor[0], _ = strconv.Atoi(m[1])
		v.majorMinor[1], _ = strconv.Atoi(m[2])
		v.name = m[1] + "." + m[2] + "." + m[3]
	})
	if v.err != nil {
		t.Fatal(v.err)
	}
	return v.majorMinor[0] < major || (v.majorMinor[0] == major && v.majorMinor[1] < minor)
}
