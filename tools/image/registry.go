package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// withRegistry serves an in-memory registry on a loopback port while a command runs
// (sh -c), with REGISTRY set to the registry's host:port: the release check pushes and
// pulls there what a tag would publish. It returns the command's error.
func withRegistry(args []string) error {
	fs := flag.NewFlagSet("registry", flag.ContinueOnError)
	command := fs.String("run", "", "the shell command to run while the registry serves; $REGISTRY is its host:port")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *command == "" || fs.NArg() > 0 {
		return errors.New("registry: want -run COMMAND")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	go srv.Serve(l)
	defer srv.Close()
	fmt.Fprintf(os.Stderr, "registry: serving on %s while running: %s\n", l.Addr(), *command)
	signal.Ignore(os.Interrupt) // the command gets Ctrl-C and ends; then so do we
	cmd := exec.Command("sh", "-c", *command)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), "REGISTRY="+l.Addr().String())
	return cmd.Run()
}

// pulledCheck checks what push left in a repository for a release: the release's tag
// (releaseTag) and no other, the image of the tar, by digest.
func pulledCheck(args []string) error {
	fs := flag.NewFlagSet("pulled", flag.ContinueOnError)
	file := fs.String("tar", "", "the OCI image layout tar make image wrote")
	repository := fs.String("repository", "", "REGISTRY/PATH that push-image pushed to")
	plugin, coredns := versionFlags(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *file == "" || *repository == "" {
		return errors.New("pulled: want -tar FILE and -repository REGISTRY/PATH")
	}
	tag, err := releaseTag(*plugin, *coredns)
	if err != nil {
		return err
	}
	want := []string{tag}
	idx, done, err := openLayoutTar(*file)
	if err != nil {
		return err
	}
	defer done()
	digest, err := idx.Digest()
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	repo, err := name.NewRepository(*repository)
	if err != nil {
		return fmt.Errorf("repository %q: %w", *repository, err)
	}
	tags, err := remote.List(repo, remote.WithContext(ctx))
	if err != nil {
		return err
	}
	slices.Sort(tags)
	if !slices.Equal(tags, want) {
		return fmt.Errorf("%s has tags %q, want the release's %q", repo, tags, want)
	}
	for _, tag := range tags {
		got, err := remote.Index(repo.Tag(tag), remote.WithContext(ctx))
		if err != nil {
			return fmt.Errorf("pull %s: %w", repo.Tag(tag), err)
		}
		d, err := got.Digest()
		if err != nil {
			return err
		}
		if d != digest {
			return fmt.Errorf("%s is %s, want the image of %s, %s", repo.Tag(tag), d, *file, digest)
		}
		fmt.Printf("pulled %s@%s: the image of %s\n", repo.Tag(tag), d, *file)
	}
	return nil
}
