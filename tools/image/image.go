package main

import (
	"bytes"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// platformRecipe is one platform of a multi-platform image.
type platformRecipe struct {
	platform v1.Platform
	recipe   recipe
}

// buildIndex makes the OCI image index of one single-layer image per platform, dated
// created: the same recipes and files make the same digests.
func buildIndex(platforms []platformRecipe, created time.Time) (v1.ImageIndex, error) {
	created = created.UTC().Truncate(time.Second)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, p := range platforms {
		img, err := buildImage(p.recipe, p.platform, created)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p.platform, err)
		}
		platform := p.platform
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: plainImage{img}, Descriptor: v1.Descriptor{Platform: &platform}})
	}
	return idx, nil
}

// plainImage is an image whose descriptor in an index has no artifactType: that field is
// for artifacts, and go-containerregistry would otherwise set it to the config's media
// type, as no container engine does for an image.
type plainImage struct{ v1.Image }

// ArtifactType is the empty artifact type (partial.Descriptor asks for it).
func (plainImage) ArtifactType() (string, error) { return "", nil }

// buildImage makes the OCI image of r for platform p.
func buildImage(r recipe, p v1.Platform, created time.Time) (v1.Image, error) {
	gz, err := layerTar(r.files, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(gz)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, err
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: created}, CreatedBy: "make image (tools/image)"},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture, cf.Variant, cf.OSVersion = p.OS, p.Architecture, p.Variant, p.OSVersion
	cf.Created = v1.Time{Time: created}
	cf.Config = r.config
	return mutate.ConfigFile(img, cf)
}
