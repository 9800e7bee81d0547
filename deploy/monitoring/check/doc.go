// Package check holds the tests of deploy/monitoring; `make monitoring-check` runs them.
//
//   - The rule file, the PrometheusRule and kube-prometheus-stack's Helm values hold the
//     same rules, each with a summary, a severity, a for: its description explains, and
//     a runbook link to an anchor that docs/operations.md has, whose table of alerts
//     gives its severity and for:. Every alert aggregates by namespace and pod and
//     selects no job.
//   - alerts-test.yaml's cases, run by `promtool test rules` on the recordings of real
//     runs the end-to-end tests made (the committed ones in recordings/, and those of
//     the latest `make e2e` when K8S_EVENT_RECORDINGS names their directory), each
//     series scraped under two jobs, as kube-prometheus-stack's coredns ServiceMonitor
//     and a PodMonitor scrape it.
//   - Every query of the dashboard parses as PromQL, names only series the recordings
//     hold, that is, series CoreDNS with the plugin exported, is of the cluster its
//     cluster variable names, and counts each Pod once however many jobs scrape it.
//   - ScaleRules, which `make alerting` uses to run the rules in a real Prometheus
//     faster (cmd/scalerules), changes the durations and nothing else.
package check
