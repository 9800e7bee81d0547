package devenv

import (
	"bufio"
	"context"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Metrics is a scrape of the prometheus plugin: values by series, written as in the
// exposition format (`name{label="value",...}`).
type Metrics map[string]float64

// ScrapeMetrics reads the metrics the prometheus plugin serves at addr.
func ScrapeMetrics(ctx context.Context, addr string) (Metrics, error) {
	return ScrapeMetricsWith(ctx, http.DefaultClient, addr)
}

// ScrapeMetricsWith is ScrapeMetrics through client c.
func ScrapeMetricsWith(ctx context.Context, c *http.Client, addr string) (Metrics, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("scrape %s: %s", addr, resp.Status)
	}
	return parseMetrics(bufio.NewScanner(resp.Body))
}

func parseMetrics(sc *bufio.Scanner) (Metrics, error) {
	m := Metrics{}
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		l := sc.Text()
		i := strings.LastIndexByte(l, ' ')
		if l == "" || l[0] == '#' || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %v", l, err)
		}
		m[l[:i]] = v
	}
	return m, sc.Err()
}

// Get returns a series' value, 0 when it is absent. Labels go in name, value pairs, in
// the order the exposition format sorts them (by name).
func (m Metrics) Get(name string, labels ...string) float64 {
	var parts []string
	for i := 0; i+1 < len(labels); i += 2 {
		parts = append(parts, fmt.Sprintf("%s=%q", labels[i], labels[i+1]))
	}
	if len(parts) > 0 {
		name += "{" + strings.Join(parts, ",") + "}"
	}
	return m[name]
}

// Sum adds up every series of a metric, whatever its labels.
func (m Metrics) Sum(name string) float64 {
	total := 0.0
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			total += v
		}
	}
	return total
}
