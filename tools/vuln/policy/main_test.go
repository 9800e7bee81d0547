package main

import (
	"bytes"
	"strings"
	"testing"
)

// stream is govulncheck -format json output in binary mode (its form, trimmed): a module
// vulnerability first seen at module level and then called, a called one of the standard
// library, and one in a module whose vulnerable code is not in the binary.
const stream = `{"config": {"protocol_version": "v1.0.0", "scanner_name": "govulncheck"}}
{"osv": {"id": "GO-2026-0001", "summary": "Panic in Decode"}}
{"osv": {"id": "GO-2026-0002", "summary": "Header smuggling in net/http"}}
{"osv": {"id": "GO-2026-0003", "summary": "Slow parse"}}
{"finding": {"osv": "GO-2026-0001", "fixed_version": "v1.2.4", "trace": [{"module": "example.com/codec", "version": "v1.2.3"}]}}
{"finding": {"osv": "GO-2026-0001", "fixed_version": "v1.2.4", "trace": [{"module": "example.com/codec", "version": "v1.2.3", "package": "example.com/codec", "function": "Decode"}]}}
{"finding": {"osv": "GO-2026-0002", "fixed_version": "v1.26.9", "trace": [{"module": "stdlib", "version": "v1.26.8", "package": "net/http", "function": "BasicAuth", "receiver": "Request"}]}}
{"finding": {"osv": "GO-2026-0003", "trace": [{"module": "example.com/parse", "version": "v0.1.0", "package": "example.com/parse"}]}}
`

// TestPolicy: a called vulnerability blocks when its kind (-stdlib, -modules) is set to
// block and is only reported otherwise; one whose code is not called is reported and
// never blocks.
func TestPolicy(t *testing.T) {
	findings, err := readFindings(strings.NewReader(stream))
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 3 {
		t.Fatalf("read %d findings, want one per vulnerability, 3: %v", len(findings), findings)
	}
	for _, c := range []struct {
		name        string
		findings    []finding
		blockStdlib bool
		blockModule bool
		status      int
		blocking    []string
	}{
		{"all, both block", findings, true, true, 1, []string{"GO-2026-0001", "GO-2026-0002"}},
		{"all, stdlib reported", findings, false, true, 1, []string{"GO-2026-0001"}},
		{"all, modules reported", findings, true, false, 1, []string{"GO-2026-0002"}},
		{"all, both reported", findings, false, false, 0, nil},
		{"stdlib and uncalled, stdlib reported", findings[1:], false, true, 0, nil},
		{"uncalled only", findings[2:], true, true, 0, nil},
	} {
		var out bytes.Buffer
		status := report(&out, c.findings, c.blockStdlib, c.blockModule)
		blockingPart, _, _ := strings.Cut(out.String(), "reported:")
		if !strings.HasPrefix(out.String(), "BLOCKING") {
			blockingPart = ""
		}
		var blocking []string
		for _, f := range c.findings {
			if strings.Contains(blockingPart, f.id) {
				blocking = append(blocking, f.id)
			}
		}
		if status != c.status || strings.Join(blocking, " ") != strings.Join(c.blocking, " ") {
			t.Errorf("%s: status %d, blocking %v, want %d, %v; report:\n%s", c.name, status, blocking, c.status, c.blocking, out.String())
		}
		for _, f := range c.findings {
			if !strings.Contains(out.String(), f.id) {
				t.Errorf("%s: the report leaves out %s:\n%s", c.name, f.id, out.String())
			}
		}
	}
	if got := findings[1].String(); got != "GO-2026-0002: net/http.Request.BasicAuth (stdlib@v1.26.8): Header smuggling in net/http; fixed in v1.26.9" {
		t.Errorf("a finding's line is %q", got)
	}
}
