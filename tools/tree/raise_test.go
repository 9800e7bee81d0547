package main

import (
	"reflect"
	"testing"
)

const treeGoMod = `module github.com/coredns/coredns

go 1.22.7

toolchain go1.23.0

require (
	github.com/quic-go/quic-go v0.48.2
	k8s.io/client-go v0.31.2
)

require golang.org/x/net v0.30.0 // indirect
`

func TestRaisesNoneWhenOnlyModulesAreAddedOrDropped(t *testing.T) {
	after := `module github.com/coredns/coredns

go 1.22.7

toolchain go1.23.0

require (
	github.com/coredns/k8s_event v0.0.0-00010101000000-000000000000
	github.com/quic-go/quic-go v0.48.2
	k8s.io/client-go v0.31.2
)
`
	got, err := raises([]byte(treeGoMod), []byte(after))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 0 {
		t.Errorf("raises = %q, want none", got)
	}
}

func TestRaisesNamesEveryRaisedModuleAndTheGoLines(t *testing.T) {
	after := `module github.com/coredns/coredns

go 1.26.0

require (
	github.com/quic-go/quic-go v0.64.1
	k8s.io/client-go v0.31.1
)

require golang.org/x/net v0.60.0 // indirect
`
	got, err := raises([]byte(treeGoMod), []byte(after))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"github.com/quic-go/quic-go v0.48.2 → v0.64.1",
		"golang.org/x/net v0.30.0 → v0.60.0",
		"go 1.22.7 → 1.26.0",
		"toolchain go1.23.0 → (none)",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("raises =\n%q\nwant\n%q", got, want)
	}
}

func TestRaisesRejectsAGoModThatDoesNotParse(t *testing.T) {
	if _, err := raises([]byte(treeGoMod), []byte("require (")); err == nil {
		t.Error("raises of an unparsable go.mod: no error")
	}
}
