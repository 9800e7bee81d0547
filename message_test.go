package k8s_event

import (
	"encoding/json"
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

// The API server stores a message as JSON does: each byte that is not UTF-8 becomes
// U+FFFD, three bytes. A message of such bytes is still stored in 1024 bytes at most,
// marker included, and one that fits once replaced is kept whole.
func TestMessageNotUTF8StoredWithinTheLimit(t *testing.T) {
	const limit = 1024
	const prefix = "plugin/errors: "
	p, _, client := newTestPipeline(t, "k8s_event {\n rate 1 10\n}")
	over := strings.Repeat("\xff", 2000)
	fits := "fits \xfe\xfe" // 5 bytes replaced, 7 + 4 stored
	p.listener.Error(prefix, over)
	p.listener.Error(prefix, fits)
	p.stop()

	evs := events(t, client, testNS)
	if len(evs) != 2 {
		t.Fatalf("%s, want both lines", describe(evs))
	}
	for _, e := range evs {
		data, err := json.Marshal(e.Message)
		if err != nil {
			t.Fatal(err)
		}
		var stored string
		if err := json.Unmarshal(data, &stored); err != nil {
			t.Fatal(err)
		}
		if strings.HasPrefix(e.Message, prefix+"fits") {
			if want := prefix + "fits \uFFFD\uFFFD"; stored != want {
				t.Errorf("a short message not UTF-8 stored as %q, want %q", stored, want)
			}
			continue
		}
		if len(stored) > limit || !strings.HasSuffix(stored, " [truncated]") {
			t.Errorf("a message of %d bytes not UTF-8 stored in %d bytes ending %q, want at most %d ending with the marker",
				len(prefix)+len(over), len(stored), stored[max(0, len(stored)-20):], limit)
		}
		if !strings.HasPrefix(stored, prefix+"\uFFFD") {
			t.Errorf("stored message begins %q, want the prefix then U+FFFD", stored[:min(len(stored), 30)])
		}
	}
}
