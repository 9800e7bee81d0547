package main

import (
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
)

func TestReleaseTag(t *testing.T) {
	for _, c := range []struct{ plugin, coredns, want string }{
		{"v1.2.0", "v1.15.0", "v1.15.0-k8s_event.1.2.0"},
		{"v0.1.0-rc.1", "v1.15.0", "v1.15.0-k8s_event.0.1.0-rc.1"},
		{"v0.1.0-3-g0123456789ab", "v1.14.6", "v1.14.6-k8s_event.0.1.0-3-g0123456789ab"},
		{"v0.0.0-dev", "v1.15.1-0.20260101120000-0123456789ab", "v1.15.1-0.20260101120000-0123456789ab-k8s_event.0.0.0-dev"},
	} {
		got, err := releaseTag(c.plugin, c.coredns)
		if err != nil || got != c.want {
			t.Errorf("releaseTag(%q, %q) = %q, %v; want %q", c.plugin, c.coredns, got, err, c.want)
			continue
		}
		if _, err := name.NewTag("localhost/k8s-event/coredns:"+got, name.StrictValidation); err != nil {
			t.Errorf("releaseTag(%q, %q) = %q, not an image tag: %v", c.plugin, c.coredns, got, err)
		}
	}
	long := "v1.2.0-" + strings.Repeat("a", 120)
	for _, c := range []struct{ plugin, coredns string }{
		{"", "v1.15.0"}, {"main", "v1.15.0"}, {"1.2.0", "v1.15.0"}, {"v1.2", "v1.15.0"},
		{"v1.2.0+build.1", "v1.15.0"}, {"v1.2.0-", "v1.15.0"}, {"v1.2.0 ", "v1.15.0"},
		{"v1.2.0", ""}, {"v1.2.0", "1.15.0"}, {"v1.2.0", "latest"}, {long, "v1.15.0"},
	} {
		if got, err := releaseTag(c.plugin, c.coredns); err == nil {
			t.Errorf("releaseTag(%q, %q) = %q, want an error", c.plugin, c.coredns, got)
		}
	}
}
