package main

import (
	"context"
	"fmt"
	"os"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// registryAuth is the registry login from REGISTRY_USERNAME and REGISTRY_PASSWORD (the
// release workflow's secrets), or anonymous when they are unset.
func registryAuth() authn.Authenticator {
	user := os.Getenv("REGISTRY_USERNAME")
	if user == "" {
		return authn.Anonymous
	}
	return authn.FromConfig(authn.AuthConfig{Username: user, Password: os.Getenv("REGISTRY_PASSWORD")})
}

// push uploads idx, unchanged (same digests), to repository under each tag, and returns the
// references it wrote.
func push(ctx context.Context, idx v1.ImageIndex, repository string, tags []string, auth authn.Authenticator) ([]string, error) {
	repo, err := name.NewRepository(repository)
	if err != nil {
		return nil, fmt.Errorf("repository %q: %w", repository, err)
	}
	digest, err := idx.Digest()
	if err != nil {
		return nil, err
	}
	var refs []string
	for _, t := range tags {
		ref := repo.Tag(t)
		if err := remote.WriteIndex(ref, idx, remote.WithContext(ctx), remote.WithAuth(auth)); err != nil {
			return refs, fmt.Errorf("push %s: %w", ref, err)
		}
		refs = append(refs, ref.String()+"@"+digest.String())
	}
	return refs, nil
}
