package devenv

import (
	"fmt"
	"os"
	"path/filepath"

	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Option changes how StartControlPlane runs kube-apiserver.
type Option func(*apiServerSetup) error

// apiServerSetup is what an Option may change before kube-apiserver starts: its flags,
// and files in the control plane's directory for those flags to name.
type apiServerSetup struct {
	dir  string
	args *envtest.Arguments
}

// applyOptions runs opts on the flags of kube-apiserver, whose files go in dir.
func applyOptions(args *envtest.Arguments, dir string, opts []Option) error {
	s := &apiServerSetup{dir: dir, args: args}
	for _, o := range opts {
		if err := o(s); err != nil {
			return err
		}
	}
	return nil
}

// WithAPIServerFlag adds a flag to kube-apiserver's command line, after envtest's and
// the control plane's own; a flag given twice is given twice.
func WithAPIServerFlag(name, value string) Option {
	return func(s *apiServerSetup) error {
		s.args.Append(name, value)
		return nil
	}
}

// WithEventRateLimit enables the EventRateLimit admission plugin with one limit of type
// Namespace: in each namespace, the Event creates and updates (patches included) of all
// clients take from one token bucket of burst tokens refilled at qps per second, and
// are answered 429 when it is empty. That answer carries no Retry-After.
func WithEventRateLimit(qps, burst int) Option {
	return func(s *apiServerSetup) error {
		if qps <= 0 || burst <= 0 {
			return fmt.Errorf("EventRateLimit: qps %d and burst %d must be positive", qps, burst)
		}
		path := filepath.Join(s.dir, "admission.yaml")
		if err := os.WriteFile(path, []byte(eventRateLimitConfig(qps, burst)), 0o644); err != nil {
			return err
		}
		s.args.Append("enable-admission-plugins", "EventRateLimit")
		s.args.Set("admission-control-config-file", path)
		return nil
	}
}

// eventRateLimitConfig is an admission configuration file (apiserver.config.k8s.io/v1)
// that gives the EventRateLimit plugin its configuration inline.
func eventRateLimitConfig(qps, burst int) string {
	return fmt.Sprintf(`apiVersion: apiserver.config.k8s.io/v1
kind: AdmissionConfiguration
plugins:
- name: EventRateLimit
  configuration:
    apiVersion: eventratelimit.admission.k8s.io/v1alpha1
    kind: Configuration
    limits:
    - type: Namespace
      qps: %d
      burst: %d
`, qps, burst)
}
