package main

import (
	"archive/tar"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// extractFile copies one file of one platform's image in a tar make image wrote to out:
// the release's signing reads each platform's binary from the image it signs (the image
// job has the image's tar only) to write that platform's SBOM.
func extractFile(args []string) error {
	fs := flag.NewFlagSet("extract", flag.ContinueOnError)
	file := fs.String("tar", "", "the OCI image layout tar make image wrote")
	platform := fs.String("platform", "", "OS/ARCH of the image to read")
	want := fs.String("path", "", "the file's path in the image, without a leading /")
	out := fs.String("out", "", "where to write the file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || *platform == "" || *want == "" || *out == "" || fs.NArg() > 0 {
		return errors.New("extract: want -tar FILE -platform OS/ARCH -path PATH -out FILE")
	}
	dir, err := os.MkdirTemp("", "image-extract-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	idx, _, err := readLayoutTar(*file, dir)
	if err != nil {
		return err
	}
	img, err := platformImage(idx, *platform)
	if err != nil {
		return err
	}
	return writeAtomically(*out, func(f *os.File) error {
		if err := copyImageFile(f, img, *want); err != nil {
			return err
		}
		return f.Chmod(0o755)
	})
}

// platformImage is the image of platform OS/ARCH in the index.
func platformImage(idx v1.ImageIndex, platform string) (v1.Image, error) {
	m, err := idx.IndexManifest()
	if err != nil {
		return nil, err
	}
	for _, desc := range m.Manifests {
		if desc.Platform != nil && desc.Platform.OS+"/"+desc.Platform.Architecture == platform {
			return idx.Image(desc.Digest)
		}
	}
	return nil, fmt.Errorf("the index has no image for %s", platform)
}

// copyImageFile writes the regular file at name (no leading /) in the image's layers to
// w: the topmost layer's copy when several have it.
func copyImageFile(w io.Writer, img v1.Image, name string) error {
	layers, err := img.Layers()
	if err != nil {
		return err
	}
	for i := len(layers) - 1; i >= 0; i-- {
		rc, err := layers[i].Uncompressed()
		if err != nil {
			return err
		}
		found, err := copyFromLayer(w, rc, name)
		rc.Close()
		if err != nil || found {
			return err
		}
	}
	return fmt.Errorf("the image has no file %s", name)
}

// copyFromLayer copies the regular file name from a layer's tar stream, if it is there.
func copyFromLayer(w io.Writer, r io.Reader, name string) (bool, error) {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		if path.Clean(hdr.Name) != path.Clean(name) {
			continue
		}
		if hdr.Typeflag != tar.TypeReg {
			return false, fmt.Errorf("%s in the image is not a regular file", name)
		}
		_, err = io.Copy(w, tr)
		return true, err
	}
}
