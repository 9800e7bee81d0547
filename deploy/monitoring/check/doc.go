// Package check holds the tests of deploy/monitoring; `make monitoring-check` runs them.
//
//   - The rule file and the PrometheusRule hold the same rules, each with a summary, a
//     severity and a runbook link to an anchor that docs/operations.md has.
//   - alerts-test.yaml's cases, run by `promtool test rules` on the recordings of real
//     runs the end-to-end tests made: the committed ones in recordings/, and those of
//     the latest `make e2e` when K8S_EVENT_RECORDINGS names their directory.
//   - Every query of the dashboard parses as PromQL and names only series the
//     recordings hold, that is, series CoreDNS with the plugin exported.
package check
