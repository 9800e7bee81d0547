package check

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// Recording is what e2e/recorder_test.go writes: the plugin's series as CoreDNS's
// /metrics showed them, one sample every Interval, and named moments of the scenario.
type Recording struct {
	Scenario string         `yaml:"scenario"`
	Interval time.Duration  `yaml:"interval"`
	Samples  int            `yaml:"samples"`
	Marks    map[string]int `yaml:"marks"`
	Series   []Series       `yaml:"series"`
}

// Series is one series of a recording: its name as the exposition format writes it,
// and a value per sample, nil where it was not exported yet.
type Series struct {
	Name   string
	Values []*float64
}

// rawSeries is a Series as the file holds it: values separated by spaces, _ for none.
type rawSeries struct {
	Series string `yaml:"series"`
	Values string `yaml:"values"`
}

// UnmarshalYAML reads a series of a recording.
func (s *Series) UnmarshalYAML(n *yaml.Node) error {
	var raw rawSeries
	if err := n.Decode(&raw); err != nil {
		return err
	}
	s.Name = raw.Series
	for _, f := range strings.Fields(raw.Values) {
		if f == "_" {
			s.Values = append(s.Values, nil)
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return fmt.Errorf("series %s: %v", raw.Series, err)
		}
		s.Values = append(s.Values, &v)
	}
	return nil
}

// ReadRecording reads and checks a recording file.
func ReadRecording(path string) (*Recording, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Recording
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("%s: %v", path, err)
	}
	if r.Interval <= 0 || r.Samples == 0 || len(r.Series) == 0 {
		return nil, fmt.Errorf("%s: want an interval, samples and series, got %v, %d, %d", path, r.Interval, r.Samples, len(r.Series))
	}
	for _, s := range r.Series {
		if len(s.Values) != r.Samples {
			return nil, fmt.Errorf("%s: series %s has %d values, want %d", path, s.Name, len(s.Values), r.Samples)
		}
	}
	for name, at := range r.Marks {
		if at < 0 || at >= r.Samples {
			return nil, fmt.Errorf("%s: mark %s at sample %d of %d", path, name, at, r.Samples)
		}
	}
	return &r, nil
}

// Get returns the series named name, or nil.
func (r *Recording) Get(name string) *Series {
	for i := range r.Series {
		if r.Series[i].Name == name {
			return &r.Series[i]
		}
	}
	return nil
}

// Repeat returns a copy in which the samples from mark from to mark to happen again,
// as increments of every series, until d has been added after mark to; what came after
// it follows, raised by what was added. It stands for the same failure going on longer
// than the run let it: an outage of 160 s lasting 20 minutes, say.
func (r *Recording) Repeat(from, to string, d time.Duration) (*Recording, error) {
	i, ok1 := r.Marks[from]
	j, ok2 := r.Marks[to]
	if !ok1 || !ok2 || i >= j {
		return nil, fmt.Errorf("recording %s: no span from mark %q to mark %q (marks %v)", r.Scenario, from, to, r.Marks)
	}
	n := int(d / r.Interval)
	out := *r
	out.Samples = r.Samples + n
	out.Marks = map[string]int{}
	for k, v := range r.Marks {
		if v >= j { // what happened at mark to, or after it, happens after the repeat
			v += n
		}
		out.Marks[k] = v
	}
	out.Series = nil
	for _, s := range r.Series {
		vals := append([]*float64(nil), s.Values[:j+1]...)
		added := 0.0
		for k := range n {
			a, b := s.Values[i+k%(j-i)], s.Values[i+k%(j-i)+1]
			if a != nil && b != nil {
				added += *b - *a
			}
			v := value(s.Values[j], added)
			vals = append(vals, v)
		}
		for _, v := range s.Values[j+1:] {
			vals = append(vals, value(v, added))
		}
		out.Series = append(out.Series, Series{Name: s.Name, Values: vals})
	}
	return &out, nil
}

// Hold returns a copy with the last sample of every series kept for d more: the run
// over, its counters as it left them.
func (r *Recording) Hold(d time.Duration) *Recording {
	n := int(d / r.Interval)
	out := *r
	out.Samples = r.Samples + n
	out.Series = nil
	for _, s := range r.Series {
		vals := append([]*float64(nil), s.Values...)
		for range n {
			vals = append(vals, s.Values[len(s.Values)-1])
		}
		out.Series = append(out.Series, Series{Name: s.Name, Values: vals})
	}
	return &out
}

// value is v raised by add, nil when v is.
func value(v *float64, add float64) *float64 {
	if v == nil {
		return nil
	}
	x := *v + add
	return &x
}

// PromtoolValues writes a series' values in promtool's input notation.
func (s Series) PromtoolValues() string {
	f := make([]string, len(s.Values))
	for i, v := range s.Values {
		if v == nil {
			f[i] = "_"
		} else {
			f[i] = strconv.FormatFloat(*v, 'f', -1, 64)
		}
	}
	return strings.Join(f, " ")
}
