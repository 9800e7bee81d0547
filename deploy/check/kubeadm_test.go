package check

import (
	"slices"
	"testing"
)

// upgradeConfiguration is the part of kubeadm's UpgradeConfiguration (kubeadm.k8s.io/v1beta4)
// that deploy/kubeadm/upgrade.yaml sets; reading it strictly fails on any other field.
// kubeadm itself loads the file in the e2e tests (config validate, upgrade plan).
type upgradeConfiguration struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Apply      struct {
		SkipPhases            []string `json:"skipPhases"`
		IgnorePreflightErrors []string `json:"ignorePreflightErrors"`
	} `json:"apply"`
	Plan struct {
		IgnorePreflightErrors []string `json:"ignorePreflightErrors"`
	} `json:"plan"`
	Node struct {
		SkipPhases []string `json:"skipPhases"`
	} `json:"node"`
}

// coreDNSChecks are kubeadm's two upgrade preflight checks of CoreDNS, which stop on the
// plugin's image tag and Corefile.
var coreDNSChecks = []string{"CoreDNSUnsupportedPlugins", "CoreDNSMigration"}

// kubeadmUpgrade checks deploy/kubeadm/upgrade.yaml: apply and node skip the CoreDNS
// addon phase, and apply and plan ignore exactly the two CoreDNS checks. kubeadm takes
// any name in ignorePreflightErrors, so a misspelt one would only show as the upgrade
// stopping.
func kubeadmUpgrade(t *testing.T) {
	t.Helper()
	var c upgradeConfiguration
	readStrict(t, &c, "deploy", "kubeadm", "upgrade.yaml")
	if c.APIVersion != "kubeadm.k8s.io/v1beta4" || c.Kind != "UpgradeConfiguration" {
		t.Errorf("%s %s, want kubeadm.k8s.io/v1beta4 UpgradeConfiguration", c.APIVersion, c.Kind)
	}
	for what, phases := range map[string][]string{"apply": c.Apply.SkipPhases, "node": c.Node.SkipPhases} {
		if !slices.Equal(phases, []string{"addon/coredns"}) {
			t.Errorf("%s.skipPhases %q, want [addon/coredns]", what, phases)
		}
	}
	for what, checks := range map[string][]string{"apply": c.Apply.IgnorePreflightErrors, "plan": c.Plan.IgnorePreflightErrors} {
		if !slices.Equal(checks, coreDNSChecks) {
			t.Errorf("%s.ignorePreflightErrors %q, want %q", what, checks, coreDNSChecks)
		}
	}
}
