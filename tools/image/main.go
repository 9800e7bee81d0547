// Command image builds this project's container images without a container engine and
// publishes them. An image is an OCI image index with one single-layer image per platform,
// written as an OCI image layout in a tar that `ctr images import` loads; the same inputs
// (binaries, CA bundle, name, epoch) make the same bytes.
//
//	image coredns -name NAME -out FILE -epoch SECONDS -ca FILE -ca-status FILE -ca-copyright FILE OS/ARCH=BINARY...
//	image pause -name NAME -out FILE -epoch SECONDS OS/ARCH=BINARY...
//	image dnsprobe -name NAME -out FILE -epoch SECONDS OS/ARCH=BINARY...
//	image push -tar FILE -repository REGISTRY/PATH -version vX.Y.Z -coredns vX.Y.Z
//	image tag -version vX.Y.Z -coredns vX.Y.Z
//	image registry -run COMMAND
//	image pulled -tar FILE -repository REGISTRY/PATH -version vX.Y.Z -coredns vX.Y.Z
//	image sbom -binary FILE -name NAME -version vX.Y.Z -epoch SECONDS -out FILE [-main-version vX.Y.Z]
//	image sbom-check -sbom FILE -binary FILE [-main-version vX.Y.Z]
//	image digests -tar FILE
//	image change-tagged -ref REGISTRY/PATH:TAG
//	image image-sbom -tar FILE -platform OS/ARCH -name NAME -version vX.Y.Z -epoch SECONDS -out FILE [-main-version vX.Y.Z]
//	image image-sbom-check -sbom FILE -tar FILE -platform OS/ARCH [-main-version vX.Y.Z]
//
// The Makefile's image, pause-image and push-image targets run it, and its IMAGE_TAG
// (tag: the release's image tag, tag.go); release-binaries writes each binary's SBOM
// (sbom.go); release-check checks the SBOMs against the image's binaries
// (sbomcheck.go) and writes and checks each platform's image SBOM (imagesbom.go,
// imagesbomcheck.go), runs push-image against registry, then pulled (registry.go);
// recipe.go says what each image holds. tools/sign-check.sh (make sign-check) signs the
// digests that digests prints and attests the image SBOMs, and shows with change-tagged
// that an image changed after signing fails verification (signing.go).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) == 0 {
		return errors.New("want a command: coredns, pause, dnsprobe, push, tag, registry, pulled, sbom, sbom-check, digests, change-tagged, image-sbom or image-sbom-check")
	}
	switch cmd, args := args[0], args[1:]; cmd {
	case "coredns", "pause", "dnsprobe":
		return build(cmd, args)
	case "push":
		return pushTar(args)
	case "tag":
		return printTag(args)
	case "registry":
		return withRegistry(args)
	case "pulled":
		return pulledCheck(args)
	case "sbom":
		return writeSBOM(args)
	case "sbom-check":
		return sbomCheck(args)
	case "digests":
		return printDigests(args)
	case "change-tagged":
		return changeTag(args)
	case "image-sbom":
		return writeImageSBOM(args)
	case "image-sbom-check":
		return imageSBOMCheck(args)
	default:
		return fmt.Errorf("unknown command %q: want coredns, pause, dnsprobe, push, tag, registry, pulled, sbom, sbom-check, digests, change-tagged, image-sbom or image-sbom-check", cmd)
	}
}

// build writes the image recipe names, one per platform given as OS/ARCH=BINARY.
func build(recipeName string, args []string) error {
	fs := flag.NewFlagSet(recipeName, flag.ContinueOnError)
	imageName := fs.String("name", "", "the image's name, with a registry host (localhost for a local image) and a tag")
	out := fs.String("out", "", "the OCI image layout tar to write")
	epoch := fs.Int64("epoch", 0, "the date of the image and its files, in seconds since 1970 (SOURCE_DATE_EPOCH)")
	ca := fs.String("ca", "", "the CA bundle (coredns)")
	caStatus := fs.String("ca-status", "", "the dpkg status stanza of the CA bundle's package, ca-certificates (coredns)")
	caCopyright := fs.String("ca-copyright", "", "the copyright file of the CA bundle's package (coredns)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	tag, err := imageTag(*imageName)
	if err != nil {
		return err
	}
	if *out == "" || fs.NArg() == 0 {
		return errors.New("want -out FILE and at least one OS/ARCH=BINARY")
	}
	if recipeName == "coredns" && (*ca == "" || *caStatus == "" || *caCopyright == "") {
		return errors.New("coredns: want -ca FILE -ca-status FILE -ca-copyright FILE, the CA bundle and its package's status and copyright")
	}
	var platforms []platformRecipe
	for _, a := range fs.Args() {
		p, binary, ok := strings.Cut(a, "=")
		platform, err := v1.ParsePlatform(p)
		if !ok || err != nil || platform.OS == "" || platform.Architecture == "" {
			return fmt.Errorf("argument %q: want OS/ARCH=BINARY, e.g. linux/amd64=coredns", a)
		}
		var r recipe
		switch recipeName {
		case "coredns":
			r = coreDNS(binary, caPackage{bundle: *ca, status: *caStatus, copyright: *caCopyright})
		case "pause":
			r = pause(binary)
		default:
			r = dnsProbe(binary)
		}
		platforms = append(platforms, platformRecipe{platform: *platform, recipe: r})
	}
	created := time.Unix(*epoch, 0).UTC()
	idx, err := buildIndex(platforms, created)
	if err != nil {
		return err
	}
	if err := writeAtomically(*out, func(f *os.File) error { return writeLayoutTar(f, idx, *imageName, tag, created) }); err != nil {
		return err
	}
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	fmt.Printf("%s: %s@%s\n", *out, *imageName, digest)
	return nil
}

// imageTag checks that ref is a full image reference, with a registry host and a tag, and
// returns the tag. containerd keeps an imported image under its name as written, while the
// kubelet asks for the name completed with the default registry's host: only a name that
// already has a host (localhost for one that is never pulled) is found under the name a
// Pod spec gives.
func imageTag(ref string) (string, error) {
	tag, err := name.NewTag(ref, name.StrictValidation)
	host, _, hasPath := strings.Cut(ref, "/")
	if err != nil || !hasPath || !(strings.ContainsAny(host, ".:") || host == "localhost") {
		return "", fmt.Errorf("image name %q: want HOST/PATH:TAG, e.g. localhost/k8s-event/coredns:dev", ref)
	}
	return tag.TagStr(), nil
}

// writeAtomically writes a file through write, so that it is there whole or not at all.
func writeAtomically(file string, write func(*os.File) error) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if err := write(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), file)
}

// versionFlags are the flags of the versions an image tag names (releaseTag).
func versionFlags(fs *flag.FlagSet) (plugin, coredns *string) {
	return fs.String("version", "", "the plugin's version: vMAJOR.MINOR.PATCH[-SUFFIX]"),
		fs.String("coredns", "", "the CoreDNS version the image's binary is built on: vMAJOR.MINOR.PATCH[-SUFFIX]")
}

// printTag prints the image tag of a release (releaseTag).
func printTag(args []string) error {
	fs := flag.NewFlagSet("tag", flag.ContinueOnError)
	plugin, coredns := versionFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	tag, err := releaseTag(*plugin, *coredns)
	if err != nil {
		return err
	}
	fmt.Println(tag)
	return nil
}

// pushTar publishes an image make image wrote, as it is, under the release's tag.
func pushTar(args []string) error {
	fs := flag.NewFlagSet("push", flag.ContinueOnError)
	file := fs.String("tar", "", "the OCI image layout tar make image wrote")
	repository := fs.String("repository", "", "where to push: REGISTRY/PATH, without a tag")
	plugin, coredns := versionFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || *repository == "" {
		return errors.New("push: want -tar FILE and -repository REGISTRY/PATH")
	}
	tag, err := releaseTag(*plugin, *coredns)
	if err != nil {
		return err
	}
	idx, done, err := openLayoutTar(*file)
	if err != nil {
		return err
	}
	defer done()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	refs, err := push(ctx, idx, *repository, []string{tag}, registryAuth())
	for _, r := range refs {
		fmt.Println("pushed", r)
	}
	return err
}
