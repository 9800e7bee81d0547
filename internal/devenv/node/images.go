package node

import (
	"fmt"
	"os"
)

// TestImages are the images the Makefile builds for the node.
type TestImages struct {
	CoreDNS Image // CoreDNS with kubeapi and k8s_event: make image
	Stock   Image // CoreDNS as released, without them, for kubeadm: make stock-image
	Probe   Image // the DNS client Pod: make probe-image
	Pause   Image // containerd's sandbox image: make pause-image
}

// All are the images a node imports.
func (t TestImages) All() Images {
	return Images{Pause: t.Pause, Others: []Image{t.CoreDNS, t.Stock, t.Probe}}
}

// ImagesFromEnv reads the images the Makefile built: K8S_EVENT_IMAGE, K8S_EVENT_STOCK_IMAGE,
// K8S_EVENT_PROBE_IMAGE and K8S_EVENT_PAUSE_IMAGE name them, and the same variables with
// _FILE give their archives.
func ImagesFromEnv() (TestImages, error) {
	var err error
	read := func(v string) Image {
		img := Image{Name: os.Getenv(v), File: os.Getenv(v + "_FILE")}
		if img.Name == "" || img.File == "" {
			err = fmt.Errorf("%s and %s_FILE are not set: run the node tests with make node", v, v)
		} else if _, statErr := os.Stat(img.File); statErr != nil && err == nil {
			err = fmt.Errorf("%s_FILE: %w (make node builds it)", v, statErr)
		}
		return img
	}
	t := TestImages{CoreDNS: read("K8S_EVENT_IMAGE"), Stock: read("K8S_EVENT_STOCK_IMAGE"),
		Probe: read("K8S_EVENT_PROBE_IMAGE"), Pause: read("K8S_EVENT_PAUSE_IMAGE")}
	return t, err
}
