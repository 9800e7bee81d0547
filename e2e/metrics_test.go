package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// metrics is a scrape of the prometheus plugin: sample values by series, written as in
// the exposition format (`name{label="value",...}`).
type metrics map[string]float64

// scrapeMetrics reads the prometheus plugin's metrics at addr.
func scrapeMetrics(t *testing.T, addr string) metrics {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: %s\n%s", addr, resp.Status, body)
	}
	m := metrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		i := strings.LastIndexByte(l, ' ')
		if i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape %s: line %q: %v", addr, l, err)
		}
		m[l[:i]] = v
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	return m
}

// get returns a series' value, 0 if it is absent; labels go in pairs, in the order the
// exposition format sorts them (by name).
func (m metrics) get(name string, labels ...string) float64 {
	return m[series(name, labels...)]
}

func series(name string, labels ...string) string {
	if len(labels) == 0 {
		return name
	}
	var parts []string
	for i := 0; i+1 < len(labels); i += 2 {
		parts = append(parts, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	return name + "{" + strings.Join(parts, ",") + "}"
}

// sum adds up every series of a metric, whatever its labels.
func (m metrics) sum(name string) float64 {
	total := 0.0
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			total += v
		}
	}
	return total
}

// The plugin's metrics.
const (
	metricLines   = "coredns_k8s_event_lines_total"
	metricDropped = "coredns_k8s_event_dropped_total"
	metricWrites  = "coredns_k8s_event_api_writes_total"
)
