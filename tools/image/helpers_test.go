package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"io"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// builtImage is an image make image-check gives the tests (K8S_EVENT_* variables).
type builtImage struct {
	tar, name string
	idx       v1.ImageIndex
}

// loaded holds the images the tests have read, by tar: read once, they are checked by
// several tests.
var loaded struct {
	sync.Mutex
	images map[string]builtImage
	dir    string // where they are unpacked; TestMain removes it
}

func TestMain(m *testing.M) {
	code := m.Run()
	for _, dir := range []string{loaded.dir, sbomImage.dir} {
		if dir != "" {
			os.RemoveAll(dir)
		}
	}
	os.Exit(code)
}

// loadBuilt reads the image whose tar and name the environment variables give (every
// blob's digest checked on the way).
func loadBuilt(t *testing.T, tarVar, nameVar string) builtImage {
	t.Helper()
	file, want := os.Getenv(tarVar), os.Getenv(nameVar)
	if file == "" || want == "" {
		t.Skipf("%s and %s are not set: make image-check builds the images and runs this test", tarVar, nameVar)
	}
	loaded.Lock()
	defer loaded.Unlock()
	b, ok := loaded.images[file]
	if !ok {
		if loaded.dir == "" {
			dir, err := os.MkdirTemp("", "k8s-event-image-test-")
			if err != nil {
				t.Fatal(err)
			}
			loaded.dir, loaded.images = dir, map[string]builtImage{}
		}
		dir, err := os.MkdirTemp(loaded.dir, "")
		if err != nil {
			t.Fatal(err)
		}
		b.tar = file
		if b.idx, b.name, err = readLayoutTar(file, dir); err != nil {
			t.Fatal(err)
		}
		loaded.images[file] = b
	}
	if b.name != want {
		t.Fatalf("%s names the image %q, want %q", file, b.name, want)
	}
	return b
}

// imagePlatforms are the platforms make image builds for.
func imagePlatforms(t *testing.T) []string {
	t.Helper()
	p := strings.Fields(os.Getenv("K8S_EVENT_IMAGE_PLATFORMS"))
	if len(p) == 0 {
		t.Fatal("K8S_EVENT_IMAGE_PLATFORMS is not set")
	}
	return p
}

// platformImages returns the index's image for each platform, failing unless the index
// has exactly the platforms want, each image's config agreeing with its descriptor.
func platformImages(t *testing.T, idx v1.ImageIndex, want []string) map[string]v1.Image {
	t.Helper()
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	images := map[string]v1.Image{}
	var got []string
	for _, d := range im.Manifests {
		if d.Platform == nil {
			t.Fatalf("manifest %s has no platform", d.Digest)
		}
		if d.MediaType != types.OCIManifestSchema1 || d.ArtifactType != "" {
			t.Errorf("manifest %s: media type %s, artifact type %q; want an OCI image manifest, not an artifact", d.Digest, d.MediaType, d.ArtifactType)
		}
		p := d.Platform.OS + "/" + d.Platform.Architecture
		got = append(got, p)
		img, err := idx.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS+"/"+cf.Architecture != p {
			t.Errorf("%s: the config says %s/%s", p, cf.OS, cf.Architecture)
		}
		images[p] = img
	}
	sort.Strings(got)
	want = append([]string(nil), want...)
	sort.Strings(want)
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("the index has platforms %q, want %q", got, want)
	}
	return images
}

// layerEntry is an entry of a layer tar, with its content.
type layerEntry struct {
	hdr  *tar.Header
	data []byte
}

// singleLayer returns the entries of an image's only layer, failing unless it has one,
// whose uncompressed digest is the config's diff ID.
func singleLayer(t *testing.T, img v1.Image) []layerEntry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(layers) != 1 || len(cf.RootFS.DiffIDs) != 1 {
		t.Fatalf("the image has %d layers and %d diff IDs, want 1", len(layers), len(cf.RootFS.DiffIDs))
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	pr, pw := io.Pipe()
	diffID := make(chan v1.Hash, 1)
	go func() {
		h, _, err := v1.SHA256(pr)
		pr.CloseWithError(err)
		diffID <- h
	}()
	var entries []layerEntry
	tr := tar.NewReader(io.TeeReader(rc, pw))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		entries = append(entries, layerEntry{hdr: hdr, data: data})
	}
	if _, err := io.Copy(pw, rc); err != nil { // the tar's padding after its last entry
		t.Fatal(err)
	}
	pw.Close()
	if h := <-diffID; h != cf.RootFS.DiffIDs[0] {
		t.Errorf("the layer's content has digest %s, the config's diff ID is %s", h, cf.RootFS.DiffIDs[0])
	}
	return entries
}

// wantEntry is what a layer entry must be: a directory or regular file owned by 0:0
// (no owner names), with these PAX records only; check, if set, checks the content.
type wantEntry struct {
	name  string
	typ   byte
	mode  int64
	pax   map[string]string
	check func(t *testing.T, data []byte)
}

// checkEntries fails unless entries are exactly want, in order, each dated modTime.
func checkEntries(t *testing.T, entries []layerEntry, want []wantEntry, modTime v1.Time) {
	t.Helper()
	var names, wantNames []string
	for _, e := range entries {
		names = append(names, e.hdr.Name)
	}
	for _, w := range want {
		wantNames = append(wantNames, w.name)
	}
	if strings.Join(names, " ") != strings.Join(wantNames, " ") {
		t.Fatalf("the layer holds %q, want %q", names, wantNames)
	}
	for i, w := range want {
		h := entries[i].hdr
		if h.Typeflag != w.typ || h.Mode != w.mode || h.Uid != 0 || h.Gid != 0 || h.Uname != "" || h.Gname != "" {
			t.Errorf("%s: type %q mode %#o owner %d:%d (%q:%q), want type %q mode %#o owner 0:0",
				w.name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Uname, h.Gname, w.typ, w.mode)
		}
		if !h.ModTime.Equal(modTime.Time) {
			t.Errorf("%s: dated %v, want the image's date %v", w.name, h.ModTime, modTime.Time)
		}
		if len(h.PAXRecords) != len(w.pax) {
			t.Errorf("%s: PAX records %q, want %q", w.name, h.PAXRecords, w.pax)
		}
		for k, v := range w.pax {
			if h.PAXRecords[k] != v {
				t.Errorf("%s: PAX record %s = % x, want % x", w.name, k, h.PAXRecords[k], v)
			}
		}
		if w.check != nil {
			w.check(t, entries[i].data)
		}
	}
}

// elfMachines maps GOARCH to ELF machines.
var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// checkStaticELF returns a check that the content is a static ELF executable for arch
// that contains every one of the strings.
func checkStaticELF(arch string, contains ...string) func(*testing.T, []byte) {
	return func(t *testing.T, data []byte) {
		t.Helper()
		f, err := elf.NewFile(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("not an ELF file: %v", err)
		}
		if want, ok := elfMachines[arch]; !ok || f.Machine != want || f.Type != elf.ET_EXEC {
			t.Errorf("an ELF %v for %v, want an executable for %s (%v)", f.Type, f.Machine, arch, want)
		}
		for _, p := range f.Progs {
			if p.Type == elf.PT_INTERP {
				t.Error("dynamically linked: it has an interpreter")
			}
		}
		for _, s := range contains {
			if !bytes.Contains(data, []byte(s)) {
				t.Errorf("does not contain %q", s)
			}
		}
	}
}
