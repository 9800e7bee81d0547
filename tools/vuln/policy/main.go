// Command policy applies SECURITY.md's vulnerability policy to govulncheck's JSON output
// (govulncheck -format json, read from standard input), for make vulncheck: it prints
// every finding and exits 1 when one blocks a release.
//
// A finding blocks when its vulnerable function is called (in binary mode: when the
// function is in the binary) and its kind is set to block: -stdlib for the standard
// library's (fixed by building with the newest Go patch release), -modules for the
// modules'. With report, such findings are printed and do not fail. Vulnerabilities in
// code that is not called, or in modules required but not built in, are reported, never
// blocking. SECURITY.md says which setting each make target and workflow uses.
//
//	govulncheck -format json -mode binary -db URL BINARY | policy -stdlib block|report -modules block|report
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// message is the part of one govulncheck JSON message that policy reads.
type message struct {
	OSV *struct {
		ID      string `json:"id"`
		Summary string `json:"summary"`
	} `json:"osv"`
	Finding *struct {
		OSV          string `json:"osv"`
		FixedVersion string `json:"fixed_version"`
		Trace        []struct {
			Module   string `json:"module"`
			Version  string `json:"version"`
			Package  string `json:"package"`
			Function string `json:"function"`
			Receiver string `json:"receiver"`
		} `json:"trace"`
	} `json:"finding"`
}

// finding is one vulnerability as the policy sees it: where it is and how far it reaches.
type finding struct {
	id, summary, module, version, fixed, symbol string
	called                                      bool
}

func (f finding) stdlib() bool { return f.module == "stdlib" || f.module == "toolchain" }

// String is the finding's line in the report.
func (f finding) String() string {
	where := f.module + "@" + f.version
	if f.symbol != "" {
		where = f.symbol + " (" + where + ")"
	}
	fixed := "no fix yet"
	if f.fixed != "" {
		fixed = "fixed in " + f.fixed
	}
	return fmt.Sprintf("%s: %s: %s; %s", f.id, where, f.summary, fixed)
}

// readFindings reads govulncheck's JSON stream: one finding per vulnerability, the called
// one (a trace with a function) when it has both.
func readFindings(r io.Reader) ([]finding, error) {
	dec := json.NewDecoder(r)
	summaries := map[string]string{}
	byID := map[string]*finding{}
	for {
		var m message
		if err := dec.Decode(&m); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			return nil, fmt.Errorf("govulncheck's JSON: %w", err)
		}
		if m.OSV != nil {
			summaries[m.OSV.ID] = m.OSV.Summary
		}
		if m.Finding == nil || len(m.Finding.Trace) == 0 {
			continue
		}
		top := m.Finding.Trace[0]
		f := finding{id: m.Finding.OSV, module: top.Module, version: top.Version, fixed: m.Finding.FixedVersion, called: top.Function != ""}
		if f.called {
			f.symbol = top.Package + "." + top.Function
			if top.Receiver != "" {
				f.symbol = top.Package + "." + top.Receiver + "." + top.Function
			}
		} else if top.Package != "" {
			f.symbol = top.Package
		}
		if old, ok := byID[f.id]; !ok || f.called && !old.called {
			byID[f.id] = &f
		}
	}
	out := make([]finding, 0, len(byID))
	for _, f := range byID {
		f.summary = summaries[f.id]
		out = append(out, *f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out, nil
}

// blocks says whether a finding blocks a release under the policy.
func blocks(f finding, blockStdlib, blockModules bool) bool {
	return f.called && (f.stdlib() && blockStdlib || !f.stdlib() && blockModules)
}

func main() {
	stdlib := flag.String("stdlib", "block", "called vulnerabilities of the standard library: block, or report")
	modules := flag.String("modules", "block", "called vulnerabilities of modules: block, or report")
	flag.Parse()
	valid := func(s string) bool { return s == "block" || s == "report" }
	if !valid(*stdlib) || !valid(*modules) || flag.NArg() > 0 {
		fmt.Fprintln(os.Stderr, "usage: govulncheck -format json ... | policy -stdlib block|report -modules block|report")
		os.Exit(2)
	}
	findings, err := readFindings(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "policy:", err)
		os.Exit(2)
	}
	os.Exit(report(os.Stdout, findings, *stdlib == "block", *modules == "block"))
}

// report prints the findings, those that block first, and returns the exit status: 1 when
// one blocks.
func report(w io.Writer, findings []finding, blockStdlib, blockModules bool) int {
	var blocking, called, other []string
	for _, f := range findings {
		switch {
		case blocks(f, blockStdlib, blockModules):
			blocking = append(blocking, f.String())
		case f.called:
			called = append(called, f.String())
		default:
			other = append(other, f.String())
		}
	}
	section := func(title string, lines []string) {
		if len(lines) > 0 {
			fmt.Fprintf(w, "%s (%d):\n  %s\n", title, len(lines), strings.Join(lines, "\n  "))
		}
	}
	section("BLOCKING: called vulnerable code", blocking)
	section("reported: called vulnerable code, not blocking here", called)
	section("reported: vulnerable code that is not called", other)
	if len(blocking) > 0 {
		return 1
	}
	fmt.Fprintf(w, "vulncheck: nothing blocks (%d findings reported)\n", len(findings))
	return 0
}
