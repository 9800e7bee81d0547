package devenv

import (
	"fmt"
	"os"
	"strings"
	"time"
)

// CPUTime is the user and system CPU time CoreDNS has used so far (Linux).
func (c *CoreDNS) CPUTime() (time.Duration, error) { return processCPUTime(c.Pid()) }

// PeakRSS is the peak resident set size of CoreDNS so far, in bytes (Linux).
func (c *CoreDNS) PeakRSS() (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.Pid()))
	if err != nil {
		return 0, err
	}
	for l := range strings.Lines(string(data)) {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			var kb int64
			_, err := fmt.Sscanf(strings.TrimSpace(rest), "%d kB", &kb)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", c.Pid())
}
