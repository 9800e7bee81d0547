package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// printDigests prints the digests of the image of a tar make image wrote, for the signing
// check (tools/sign-check.sh): a line "index DIGEST", then "OS/ARCH DIGEST" for each
// platform's image, in the index's order. What is signed and attested is named by these.
func printDigests(args []string) error {
	fs := flag.NewFlagSet("digests", flag.ContinueOnError)
	file := fs.String("tar", "", "the OCI image layout tar make image wrote")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || fs.NArg() > 0 {
		return errors.New("digests: want -tar FILE")
	}
	idx, done, err := openLayoutTar(*file)
	if err != nil {
		return err
	}
	defer done()
	return writeDigests(os.Stdout, idx)
}

// writeDigests writes the index's digest and each platform image's, as printDigests
// prints them.
func writeDigests(w io.Writer, idx v1.ImageIndex) error {
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "index %s\n", d)
	for _, desc := range m.Manifests {
		if desc.Platform == nil {
			return fmt.Errorf("the index's manifest %s names no platform", desc.Digest)
		}
		fmt.Fprintf(w, "%s/%s %s\n", desc.Platform.OS, desc.Platform.Architecture, desc.Digest)
	}
	return nil
}

// changedAnnotation is the annotation changeTagged adds to an image index.
const changedAnnotation = "io.k8s-event.changed-after-signing"

// changeTagged replaces the image index a tag names with a changed copy (one annotation
// added, so another digest) and returns both digests: what an attacker who can push to
// the repository would do after the release signed it. The signing check uses it to show
// that verification then fails.
func changeTagged(ctx context.Context, tag name.Tag) (before, after v1.Hash, err error) {
	idx, err := remote.Index(tag, remote.WithContext(ctx))
	if err != nil {
		return before, after, fmt.Errorf("pull %s: %w", tag, err)
	}
	if before, err = idx.Digest(); err != nil {
		return before, after, err
	}
	changed := mutate.Annotations(idx, map[string]string{changedAnnotation: "true"}).(v1.ImageIndex)
	if after, err = changed.Digest(); err != nil {
		return before, after, err
	}
	if err := remote.WriteIndex(tag, changed, remote.WithContext(ctx)); err != nil {
		return before, after, fmt.Errorf("push %s: %w", tag, err)
	}
	return before, after, nil
}

// changeTag is the command line of changeTagged: -ref REGISTRY/PATH:TAG. It prints the
// old and the new digest.
func changeTag(args []string) error {
	fs := flag.NewFlagSet("change-tagged", flag.ContinueOnError)
	ref := fs.String("ref", "", "REGISTRY/PATH:TAG whose image to replace with a changed copy")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *ref == "" || fs.NArg() > 0 {
		return errors.New("change-tagged: want -ref REGISTRY/PATH:TAG")
	}
	tag, err := name.NewTag(*ref, name.StrictValidation)
	if err != nil {
		return fmt.Errorf("%q: %w", *ref, err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	before, after, err := changeTagged(ctx, tag)
	if err != nil {
		return err
	}
	fmt.Printf("%s was %s, is now %s\n", tag, before, after)
	return nil
}
