package k8s_event

import "testing"

// A line whose log call read the settings just before the final shutdown, and goes on
// after it: it ends in a counted outcome too, dropped as still on its way at shutdown, so
// that lines_total grows by exactly what reported_total and dropped_total grow by.
func TestLineLoggedAcrossTheFinalShutdownIsCounted(t *testing.T) {
	p, _, _ := newTestPipeline(t, "k8s_event")
	before, lines := readOutcomes(), linesCount.WithLabelValues("error").Value()
	s := p.settings.Load() // the log call has read the settings...
	p.stop()               // ...the final shutdown runs to its end...
	p.settings.Store(s)    // ...and the call goes on with what it read.
	p.listener.Error("plugin/errors: ", "logged as CoreDNS stops")

	if selected := linesCount.WithLabelValues("error").Value() - lines; selected != 1 {
		t.Errorf("%v lines selected, want 1", selected)
	}
	if got, want := readOutcomes().since(before), (outcomes{dropShutdown: 1}); got.String() != want.String() {
		t.Errorf("outcomes %s, want %s", got, want)
	}
}
