package k8s_event

import (
	"strings"
	"testing"
)

// The README promises a message cut to 1024 bytes, prefix and marker included, when
// longer: one of exactly 1024 bytes is kept whole, one of 1025 is cut.
func TestMessageOfTheLimitKeptWhole(t *testing.T) {
	const limit = 1024 // README: "cut to 1024 bytes (ending in ` [truncated]`) when longer"
	const prefix = "plugin/errors: "
	p, _, client := newTestPipeline(t, "k8s_event {\n rate 1 10\n}")
	fits := strings.Repeat("a", limit-len(prefix))
	over := strings.Repeat("b", limit-len(prefix)+1)
	p.listener.Error(prefix, fits)
	p.listener.Error(prefix, over)
	p.stop()

	evs := events(t, client, testNS)
	if len(evs) != 2 {
		t.Fatalf("%s, want both lines", describe(evs))
	}
	for _, e := range evs {
		switch e.Message[len(prefix)] {
		case 'a':
			if e.Message != prefix+fits {
				t.Errorf("a message of exactly %d bytes became %d bytes ending %q, want it whole", limit, len(e.Message), e.Message[len(e.Message)-20:])
			}
		case 'b':
			if len(e.Message) != limit || !strings.HasSuffix(e.Message, " [truncated]") {
				t.Errorf("a message of %d bytes became %d bytes ending %q, want %d ending with the marker", limit+1, len(e.Message), e.Message[len(e.Message)-20:], limit)
			}
		}
	}
}
