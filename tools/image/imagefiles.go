package main

import (
	"archive/tar"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

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

// imageFile is a regular file of an image as its layers leave it, with its content.
type imageFile struct {
	path string // without the leading slash
	data []byte
}

// sha1Hex and sha256Hex are the file's digests, as SPDX writes them (SHA1 is the one SPDX
// 2.3 requires of a file).
func (f imageFile) sha1Hex() string {
	s := sha1.Sum(f.data)
	return hex.EncodeToString(s[:])
}

func (f imageFile) sha256Hex() string {
	s := sha256.Sum256(f.data)
	return hex.EncodeToString(s[:])
}

// imageFiles returns every regular file of img, in path order: the layers applied bottom
// to top, a later layer's file replacing an earlier one's and its whiteouts (.wh.NAME)
// removing one. Any other entry than a directory, a regular file or a whiteout is an error:
// this project's images have none, and an SBOM must not leave one out unsaid.
func imageFiles(img v1.Image) ([]imageFile, error) {
	layers, err := img.Layers()
	if err != nil {
		return nil, err
	}
	files := map[string]imageFile{}
	for i, l := range layers {
		rc, err := l.Uncompressed()
		if err != nil {
			return nil, err
		}
		err = readLayerFiles(rc, files)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("layer %d: %w", i, err)
		}
	}
	list := make([]imageFile, 0, len(files))
	for _, f := range files {
		list = append(list, f)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].path < list[j].path })
	return list, nil
}

// readLayerFiles applies one layer's tar stream to files.
func readLayerFiles(r io.Reader, files map[string]imageFile) error {
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		dir, base := path.Split(name)
		switch {
		case strings.HasPrefix(base, ".wh."):
			removed := dir + strings.TrimPrefix(base, ".wh.")
			for p := range files {
				if p == removed || strings.HasPrefix(p, removed+"/") {
					delete(files, p)
				}
			}
		case hdr.Typeflag == tar.TypeDir:
		case hdr.Typeflag == tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			files[name] = imageFile{path: name, data: data}
		default:
			return fmt.Errorf("%s: entry type %q, which an SBOM of this image cannot describe", name, hdr.Typeflag)
		}
	}
}
