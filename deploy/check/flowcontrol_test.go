package check

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	yaml3 "go.yaml.in/yaml/v3"
	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// flowControlName names both objects of deploy/flowcontrol/: what they are for is said by
// the name, as for deploy/rbac.yaml's Role.
const flowControlName = "coredns-k8s-event"

// kubeSystemServiceAccountsPrecedence is the matchingPrecedence of the FlowSchema
// kube-system-service-accounts that API Priority and Fairness suggests (k8s.io/apiserver,
// flowcontrol bootstrap), which matches the coredns ServiceAccount's requests unless a
// FlowSchema of lower precedence does. The end-to-end test reads it from the real API
// server.
const kubeSystemServiceAccountsPrecedence = 900

// eventVerbs are the verbs on core/v1 events in leastPrivilege: what the plugin writes.
func eventVerbs() []string {
	var verbs []string
	for _, p := range leastPrivilege {
		if v, ok := strings.CutPrefix(p, "/events:"); ok {
			verbs = append(verbs, v)
		}
	}
	return verbs
}

// checkFlowControl checks the rendered objects of deploy/flowcontrol/: a FlowSchema that
// takes exactly the plugin's event writes, those of the ServiceAccount subject binds in
// deploy/rbac.yaml, to a priority level of their own, matched before
// kube-system-service-accounts; and that priority level, limited, queuing, and never
// borrowing concurrency from the others.
func checkFlowControl(t *testing.T, objs []object, subject rbacv1.Subject) {
	t.Helper()
	fs := only[*flowcontrolv1.FlowSchema](t, objs, "FlowSchema")
	pl := only[*flowcontrolv1.PriorityLevelConfiguration](t, objs, "PriorityLevelConfiguration")
	if fs.Name != flowControlName || pl.Name != flowControlName {
		t.Errorf("FlowSchema %q, PriorityLevelConfiguration %q: want both named %q", fs.Name, pl.Name, flowControlName)
	}
	if fs.Namespace != "" || pl.Namespace != "" {
		t.Errorf("FlowSchema in %q, PriorityLevelConfiguration in %q: both are cluster-scoped", fs.Namespace, pl.Namespace)
	}
	if fs.Spec.PriorityLevelConfiguration.Name != pl.Name {
		t.Errorf("the FlowSchema's priority level is %q, want %q", fs.Spec.PriorityLevelConfiguration.Name, pl.Name)
	}
	if p := fs.Spec.MatchingPrecedence; p <= 1 || p >= kubeSystemServiceAccountsPrecedence {
		t.Errorf("matchingPrecedence %d: want it below kube-system-service-accounts' %d (and above 1, the exempt schema's)", p, kubeSystemServiceAccountsPrecedence)
	}
	if len(fs.Spec.Rules) != 1 {
		t.Fatalf("the FlowSchema has %d rules, want 1: the plugin's writes", len(fs.Spec.Rules))
	}
	rule := fs.Spec.Rules[0]
	want := []flowcontrolv1.Subject{{
		Kind:           flowcontrolv1.SubjectKindServiceAccount,
		ServiceAccount: &flowcontrolv1.ServiceAccountSubject{Namespace: subject.Namespace, Name: subject.Name},
	}}
	if !slices.EqualFunc(rule.Subjects, want, func(a, b flowcontrolv1.Subject) bool {
		return a.Kind == b.Kind && a.User == nil && a.Group == nil && a.ServiceAccount != nil && *a.ServiceAccount == *b.ServiceAccount
	}) {
		t.Errorf("the FlowSchema's subjects %s, want only ServiceAccount %s/%s, the one deploy/rbac.yaml binds",
			mustJSON(t, rule.Subjects), subject.Namespace, subject.Name)
	}
	if len(rule.NonResourceRules) > 0 {
		t.Errorf("non-resource rules %s: the plugin makes no such request", mustJSON(t, rule.NonResourceRules))
	}
	wantRule := flowcontrolv1.ResourcePolicyRule{
		Verbs: eventVerbs(), APIGroups: []string{""}, Resources: []string{"events"}, Namespaces: []string{subject.Namespace},
	}
	if len(rule.ResourceRules) != 1 || mustJSON(t, rule.ResourceRules[0]) != mustJSON(t, wantRule) {
		t.Errorf("resource rules %s, want only %s: the plugin's writes, in its namespace", mustJSON(t, rule.ResourceRules), mustJSON(t, wantRule))
	}

	l := pl.Spec.Limited
	if pl.Spec.Type != flowcontrolv1.PriorityLevelEnablementLimited || l == nil || pl.Spec.Exempt != nil {
		t.Fatalf("priority level %s: want type Limited with limited settings", mustJSON(t, pl.Spec))
	}
	// workload-high's share is 40: this level takes a small part of what it had.
	if s := l.NominalConcurrencyShares; s == nil || *s <= 0 || *s > 10 {
		t.Errorf("nominalConcurrencyShares %s: want a small positive share (at most 10)", mustJSON(t, s))
	}
	if b := l.BorrowingLimitPercent; b == nil || *b != 0 {
		t.Errorf("borrowingLimitPercent %s: want 0, so that the fleet never takes more than its own seats", mustJSON(t, b))
	}
	if lp := l.LendablePercent; lp != nil && (*lp < 0 || *lp >= 100) {
		t.Errorf("lendablePercent %d: want some seats kept for the fleet", *lp)
	}
	q := l.LimitResponse.Queuing
	if l.LimitResponse.Type != flowcontrolv1.LimitResponseTypeQueue || q == nil {
		t.Fatalf("limitResponse %s: want Queue: a write that waits costs less than one refused and sent again", mustJSON(t, l.LimitResponse))
	}
	if q.Queues <= 0 || q.HandSize <= 0 || q.HandSize > q.Queues || q.QueueLengthLimit <= 0 {
		t.Errorf("queuing %s: want positive queues, handSize at most queues, and a positive queueLengthLimit", mustJSON(t, q))
	}
}

// rbacSubject is the subject of the RoleBinding that `kubectl apply -k deploy/` renders.
func rbacSubject(t *testing.T) rbacv1.Subject {
	t.Helper()
	b := only[*rbacv1.RoleBinding](t, kustomize(t, filesys.MakeFsOnDisk(), repoPath("deploy")), "RoleBinding")
	if len(b.Subjects) != 1 {
		t.Fatalf("RoleBinding %s binds %d subjects, want 1", b.Name, len(b.Subjects))
	}
	return b.Subjects[0]
}

// TestFlowControl: `kubectl apply -k deploy/flowcontrol/` (a kustomize Component, which
// kubectl builds on its own too) renders exactly the priority level and the FlowSchema,
// both cluster-scoped, and the FlowSchema takes the writes of the ServiceAccount that
// deploy/ binds its Role to.
func TestFlowControl(t *testing.T) {
	objs := kustomize(t, filesys.MakeFsOnDisk(), repoPath("deploy", "flowcontrol"))
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.kind+" "+o.namespace+"/"+o.name)
	}
	want := []string{"PriorityLevelConfiguration /" + flowControlName, "FlowSchema /" + flowControlName}
	if !slices.Equal(kinds, want) {
		t.Errorf("renders %q, want %q", kinds, want)
	}
	checkFlowControl(t, objs, rbacSubject(t))
}

// TestFlowControlComponent: an overlay of deploy/ that lists deploy/flowcontrol/ under
// components renders deploy/'s Role and RoleBinding in kube-system and the flow control
// objects cluster-scoped, unchanged by deploy/'s namespace.
func TestFlowControlComponent(t *testing.T) {
	overlay := t.TempDir()
	// kustomize takes relative paths only.
	rel := func(elem ...string) string {
		p, err := filepath.Abs(repoPath(elem...))
		if err == nil {
			p, err = filepath.Rel(overlay, p)
		}
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	k := "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- " + rel("deploy") +
		"\ncomponents:\n- " + rel("deploy", "flowcontrol") + "\n"
	if err := os.WriteFile(filepath.Join(overlay, "kustomization.yaml"), []byte(k), 0o644); err != nil {
		t.Fatal(err)
	}
	objs := kustomize(t, filesys.MakeFsOnDisk(), overlay)
	var kinds []string
	for _, o := range objs {
		kinds = append(kinds, o.kind+" "+o.namespace+"/"+o.name)
	}
	slices.Sort(kinds)
	want := []string{
		"FlowSchema /" + flowControlName,
		"PriorityLevelConfiguration /" + flowControlName,
		"Role kube-system/coredns-k8s-event",
		"RoleBinding kube-system/coredns-k8s-event",
	}
	if !slices.Equal(kinds, want) {
		t.Errorf("renders %q, want %q", kinds, want)
	}
	checkRBAC(t, objs, "kube-system", "coredns")
	checkFlowControl(t, objs, rbacSubject(t))
}

// levelSetting is one setting of deploy/flowcontrol/prioritylevel.yaml: a key under
// spec.limited that holds a value, named as docs/operations.md names it (its key, or
// PARENT.type for a type), its value, and its comments.
type levelSetting struct {
	name, value, comment string
}

// levelSettings reads the settings of the priority level, in the file's order.
func levelSettings(t *testing.T) []levelSetting {
	t.Helper()
	var doc yaml3.Node
	if err := yaml3.Unmarshal([]byte(readText(t, "deploy", "flowcontrol", "prioritylevel.yaml")), &doc); err != nil {
		t.Fatal(err)
	}
	var settings []levelSetting
	var walk func(parent string, n *yaml3.Node)
	walk = func(parent string, n *yaml3.Node) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			key, value := n.Content[i], n.Content[i+1]
			if value.Kind == yaml3.MappingNode {
				walk(key.Value, value)
				continue
			}
			name := key.Value
			if name == "type" {
				name = parent + ".type"
			}
			settings = append(settings, levelSetting{name: name, value: value.Value,
				comment: strings.TrimSpace(key.HeadComment + key.LineComment + value.LineComment)})
		}
	}
	walk("limited", mappingValue(t, mappingValue(t, doc.Content[0], "spec"), "limited"))
	return settings
}

// TestFlowControlSettingsExplained: every setting of the priority level (each key under
// spec.limited, the queuing's too) has a comment above it or beside it that says why.
func TestFlowControlSettingsExplained(t *testing.T) {
	for _, s := range levelSettings(t) {
		if s.comment == "" {
			t.Errorf("prioritylevel.yaml: %s: %s has no comment that says why", s.name, s.value)
		}
	}
}

// TestFlowControlSettingsDocumented: docs/operations.md's table of the priority level's
// settings (under Flow control: | `NAME`, `NAME` | VALUE, VALUE | why |) gives each
// setting of prioritylevel.yaml with its value, and no other.
func TestFlowControlSettingsDocumented(t *testing.T) {
	_, section, ok := strings.Cut(readText(t, "docs", "operations.md"), "\n## Flow control\n")
	if !ok {
		t.Fatal("docs/operations.md has no section Flow control")
	}
	section, _, _ = strings.Cut(section, "\n## ")
	documented := map[string]string{}
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) != 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		names, values := strings.Split(cells[1], ","), strings.Split(cells[2], ",")
		if len(names) != len(values) {
			t.Errorf("docs/operations.md: %q: %d settings, %d values", line, len(names), len(values))
			continue
		}
		for i, n := range names {
			documented[strings.Trim(strings.TrimSpace(n), "`")] = strings.Trim(strings.TrimSpace(values[i]), "`")
		}
	}
	for _, s := range levelSettings(t) {
		if v, ok := documented[s.name]; !ok || v != s.value {
			t.Errorf("docs/operations.md, Flow control: %s is %q (documented: %v), prioritylevel.yaml has %q", s.name, v, ok, s.value)
		}
		delete(documented, s.name)
	}
	for name, v := range documented {
		t.Errorf("docs/operations.md, Flow control: documents %s %q, which prioritylevel.yaml does not set", name, v)
	}
}

// mappingValue is the value of key in the YAML mapping n.
func mappingValue(t *testing.T, n *yaml3.Node, key string) *yaml3.Node {
	t.Helper()
	for i := 0; n.Kind == yaml3.MappingNode && i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	t.Fatalf("no key %q", key)
	return nil
}
