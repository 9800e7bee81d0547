package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Annotations of index.json's entry, the names an importer gives the image: containerd
// (ctr images import) takes the full name from the first; the OCI one is the tag alone, as
// the image layout specification has it.
const (
	annotationContainerdName = "io.containerd.image.name"
	annotationOCIRefName     = "org.opencontainers.image.ref.name"
)

// blob is a content-addressed file of an image layout.
type blob struct {
	digest v1.Hash
	size   int64
	open   func() (io.ReadCloser, error)
}

// writeLayoutTar writes an OCI image layout, as a tar, whose index.json names idx as the
// image name (a full reference). Its entries are in path order and dated modTime.
func writeLayoutTar(w io.Writer, idx v1.ImageIndex, name, tag string, modTime time.Time) error {
	blobs, err := indexBlobs(idx)
	if err != nil {
		return err
	}
	desc, err := partial.Descriptor(idx)
	if err != nil {
		return err
	}
	desc.Annotations = map[string]string{annotationContainerdName: name, annotationOCIRefName: tag}
	top, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{*desc}})
	if err != nil {
		return err
	}

	tw := tar.NewWriter(w)
	header := func(name string, typ byte, mode, size int64) error {
		return tw.WriteHeader(&tar.Header{Typeflag: typ, Name: name, Mode: mode, Size: size, ModTime: modTime, Format: tar.FormatPAX})
	}
	small := func(name string, data []byte) error {
		if err := header(name, tar.TypeReg, 0o644, int64(len(data))); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	if err := header("blobs/", tar.TypeDir, 0o755, 0); err != nil {
		return err
	}
	if err := header("blobs/sha256/", tar.TypeDir, 0o755, 0); err != nil {
		return err
	}
	for _, b := range blobs {
		if err := writeBlob(tw, header, b); err != nil {
			return err
		}
	}
	if err := small("index.json", top); err != nil {
		return err
	}
	if err := small("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	return tw.Close()
}

// writeBlob writes one blob's entry, checking that its content has its digest and size.
func writeBlob(tw *tar.Writer, header func(string, byte, int64, int64) error, b blob) error {
	rc, err := b.open()
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := header("blobs/"+b.digest.Algorithm+"/"+b.digest.Hex, tar.TypeReg, 0o644, b.size); err != nil {
		return err
	}
	h, n, err := v1.SHA256(io.TeeReader(rc, tw))
	if err != nil {
		return err
	}
	if n != b.size || h != b.digest {
		return fmt.Errorf("blob %s: content has digest %s, size %d (want %d)", b.digest, h, n, b.size)
	}
	return nil
}

// indexBlobs lists the blobs of idx, its images' manifests, configs and layers, each
// once, in digest order.
func indexBlobs(idx v1.ImageIndex) ([]blob, error) {
	seen := map[v1.Hash]blob{}
	addRaw := func(get func() ([]byte, error)) error {
		data, err := get()
		if err != nil {
			return err
		}
		h, n, err := v1.SHA256(bytes.NewReader(data))
		if err != nil {
			return err
		}
		seen[h] = blob{digest: h, size: n, open: func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }}
		return nil
	}
	if err := addRaw(idx.RawManifest); err != nil {
		return nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, d := range im.Manifests {
		img, err := idx.Image(d.Digest)
		if err != nil {
			return nil, err
		}
		if err := addRaw(img.RawManifest); err != nil {
			return nil, err
		}
		if err := addRaw(img.RawConfigFile); err != nil {
			return nil, err
		}
		layers, err := img.Layers()
		if err != nil {
			return nil, err
		}
		for _, l := range layers {
			h, err := l.Digest()
			if err != nil {
				return nil, err
			}
			size, err := l.Size()
			if err != nil {
				return nil, err
			}
			seen[h] = blob{digest: h, size: size, open: l.Compressed}
		}
	}
	var blobs []blob
	for _, b := range seen {
		blobs = append(blobs, b)
	}
	sort.Slice(blobs, func(i, j int) bool { return blobs[i].digest.String() < blobs[j].digest.String() })
	return blobs, nil
}

// openLayoutTar reads the image index of the OCI layout tar file (readLayoutTar) in a
// temporary directory of its own; call done once the index is no longer used.
func openLayoutTar(file string) (idx v1.ImageIndex, done func(), err error) {
	dir, err := os.MkdirTemp("", "image-layout-")
	if err != nil {
		return nil, nil, err
	}
	if idx, _, err = readLayoutTar(file, dir); err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return idx, func() { os.RemoveAll(dir) }, nil
}

// readLayoutTar reads what writeLayoutTar wrote: the image index and its name. It unpacks
// the tar into dir, which must stay until the index is no longer used, and fails unless
// every blob has the digest it is named after.
func readLayoutTar(file, dir string) (idx v1.ImageIndex, name string, err error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, "", err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", file, err)
		}
		clean := path.Clean(hdr.Name)
		if !filepath.IsLocal(clean) {
			return nil, "", fmt.Errorf("%s: entry %q is outside the layout", file, hdr.Name)
		}
		target := filepath.Join(dir, filepath.FromSlash(clean))
		switch hdr.Typeflag {
		case tar.TypeDir:
			err = os.MkdirAll(target, 0o755)
		case tar.TypeReg:
			err = writeFile(target, tr, strings.HasPrefix(clean, "blobs/"))
		default:
			err = fmt.Errorf("entry %q: unexpected type %q", hdr.Name, hdr.Typeflag)
		}
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", file, err)
		}
	}
	top, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", file, err)
	}
	im, err := top.IndexManifest()
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", file, err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].MediaType != types.OCIImageIndex {
		return nil, "", fmt.Errorf("%s: index.json lists %d manifests, want one image index", file, len(im.Manifests))
	}
	idx, err = top.ImageIndex(im.Manifests[0].Digest)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", file, err)
	}
	return idx, im.Manifests[0].Annotations[annotationContainerdName], nil
}

// writeFile writes r to a new file, making its directory. A blob's content must have the
// digest of its name (blobs/ALGORITHM/HEX).
func writeFile(name string, r io.Reader, blob bool) error {
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	h, _, err := v1.SHA256(io.TeeReader(r, f))
	if err != nil {
		f.Close()
		return err
	}
	if want := filepath.Base(filepath.Dir(name)) + ":" + filepath.Base(name); blob && h.String() != want {
		f.Close()
		return fmt.Errorf("blob %s has digest %s", want, h)
	}
	return f.Close()
}
