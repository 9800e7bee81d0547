package main

import (
	"io"
	"log"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestPushPublishesTheTar: make push-image's command uploads the image of a tar make image
// wrote, with the same digest, under the release's tag (releaseTag) and no other: no
// latest, nor a tag that is the plugin's version alone.
func TestPushPublishesTheTar(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	repo := strings.TrimPrefix(srv.URL, "http://") + "/k8s-event/coredns"

	idx, data := layoutTar(t, fakeInputs(t), time.Unix(1700000000, 0))
	file := filepath.Join(t.TempDir(), "coredns.tar")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		t.Fatal(err)
	}
	want, _ := idx.Digest()
	for _, step := range []struct{ version, tags string }{
		{"v1.2.0-rc.1", "v1.15.0-k8s_event.1.2.0-rc.1"},
		{"v1.2.0", "v1.15.0-k8s_event.1.2.0 v1.15.0-k8s_event.1.2.0-rc.1"},
	} {
		if err := run([]string{"push", "-tar", file, "-repository", repo, "-version", step.version, "-coredns", "v1.15.0"}); err != nil {
			t.Fatalf("push %s: %v", step.version, err)
		}
		r, err := name.NewRepository(repo)
		if err != nil {
			t.Fatal(err)
		}
		tags, err := remote.List(r)
		if err != nil {
			t.Fatal(err)
		}
		sort.Strings(tags)
		if strings.Join(tags, " ") != step.tags {
			t.Errorf("after pushing %s the repository has tags %q, want %q", step.version, tags, step.tags)
		}
		for _, tag := range tags {
			got, err := remote.Index(r.Tag(tag))
			if err != nil {
				t.Fatal(err)
			}
			if d, _ := got.Digest(); d != want {
				t.Errorf("%s is %s, want the tar's image %s", tag, d, want)
			}
		}
	}
}
