//go:build linux

package node

import (
	"fmt"
	"os"
)

// ImagesFromEnv reads the images the Makefile built from K8S_EVENT_IMAGE (CoreDNS with
// the plugin), K8S_EVENT_PAUSE_IMAGE and K8S_EVENT_PROBE_IMAGE (the node tests' DNS
// client), each the image's name, and the same variables with _FILE, its archive.
func ImagesFromEnv() (coredns, probe Image, all Images, err error) {
	read := func(v string) Image {
		img := Image{Name: os.Getenv(v), File: os.Getenv(v + "_FILE")}
		if img.Name == "" || img.File == "" {
			err = fmt.Errorf("%s and %s_FILE are not set: run the node tests with make node", v, v)
		} else if _, statErr := os.Stat(img.File); statErr != nil && err == nil {
			err = fmt.Errorf("%s_FILE: %w (make image builds it)", v, statErr)
		}
		return img
	}
	coredns, probe = read("K8S_EVENT_IMAGE"), read("K8S_EVENT_PROBE_IMAGE")
	all = Images{Pause: read("K8S_EVENT_PAUSE_IMAGE"), Others: []Image{coredns, probe}}
	return coredns, probe, all, err
}
