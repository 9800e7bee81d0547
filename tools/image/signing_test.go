package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// TestWriteDigests: digests names the index and each platform's image by the digests a
// registry serves them under once pushed.
func TestWriteDigests(t *testing.T) {
	idx, _ := layoutTar(t, fakeInputs(t), time.Unix(1700000000, 0))
	var out bytes.Buffer
	if err := writeDigests(&out, idx); err != nil {
		t.Fatal(err)
	}
	d, _ := idx.Digest()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("index %s\n", d)
	for _, desc := range m.Manifests {
		want += fmt.Sprintf("%s/%s %s\n", desc.Platform.OS, desc.Platform.Architecture, desc.Digest)
	}
	if len(m.Manifests) < 2 || out.String() != want {
		t.Errorf("digests printed\n%s\nwant\n%s(one line per platform, %d platforms)", out.String(), want, len(m.Manifests))
	}
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		if f := strings.Fields(line); len(f) != 2 || !strings.HasPrefix(f[1], "sha256:") {
			t.Errorf("line %q: want NAME sha256:DIGEST", line)
		}
	}
}

// TestChangeTagged: change-tagged leaves the tag on another image, the old one changed
// by an annotation: the image a signature was made for is no longer what the tag names.
func TestChangeTagged(t *testing.T) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	tag, err := name.NewTag(strings.TrimPrefix(srv.URL, "http://") + "/k8s-event/coredns:v1.15.0-k8s_event.0.0.0")
	if err != nil {
		t.Fatal(err)
	}
	idx, _ := layoutTar(t, fakeInputs(t), time.Unix(1700000000, 0))
	if err := remote.WriteIndex(tag, idx); err != nil {
		t.Fatal(err)
	}
	signed, _ := idx.Digest()
	before, after, err := changeTagged(context.Background(), tag)
	if err != nil {
		t.Fatal(err)
	}
	if before != signed || after == signed {
		t.Fatalf("change-tagged: before %s, after %s; want before the pushed %s and after another", before, after, signed)
	}
	got, err := remote.Index(tag)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := got.Digest()
	m, err := got.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if d != after || m.Annotations[changedAnnotation] != "true" {
		t.Errorf("the tag names %s (annotations %v), want the changed image %s", d, m.Annotations, after)
	}
	if _, err := remote.Index(tag.Repository.Digest(signed.String())); err != nil {
		t.Errorf("the signed image %s is gone from the repository: %v", signed, err)
	}
}
