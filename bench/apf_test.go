package main

import (
	"slices"
	"testing"
	"time"
)

func TestAPFClientBetween(t *testing.T) {
	t0 := time.Now()
	c := &apfClient{samples: []apfSample{
		{at: t0, took: time.Millisecond},
		{at: t0.Add(time.Second), took: 2 * time.Millisecond},
		{at: t0.Add(time.Second), err: true},
		{at: t0.Add(2 * time.Second), took: 3 * time.Millisecond},
	}}
	took, failed := c.between(t0.Add(time.Second), t0.Add(2*time.Second))
	if !slices.Equal(took, []time.Duration{2 * time.Millisecond}) || failed != 1 {
		t.Errorf("between(1 s, 2 s) = %v, %d failed; want [2ms], 1 failed", took, failed)
	}
}

func TestLabelValue(t *testing.T) {
	series := `apiserver_flowcontrol_dispatched_requests_total{flow_schema="kube-system-service-accounts",priority_level="workload-high"}`
	if fs, pl := labelValue(series, "flow_schema"), labelValue(series, "priority_level"); fs != "kube-system-service-accounts" || pl != "workload-high" {
		t.Errorf("labelValue = %q, %q", fs, pl)
	}
	if v := labelValue(series, "reason"); v != "" {
		t.Errorf("labelValue(reason) = %q, want empty", v)
	}
}
