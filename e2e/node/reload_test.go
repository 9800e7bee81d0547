package node

import (
	"testing"
	"time"
)

// TestCorefileChangeTakesEffectInEveryReplica: a change to k8s_event's settings in the
// ConfigMap reaches every replica through the kubelet and the *reload* plugin, and each
// then reports what the new settings select: here the info lines, of which the reload
// itself logs one.
func TestCorefileChangeTakesEffectInEveryReplica(t *testing.T) {
	setUp(t)
	pods := readyPods(t)
	restoreCorefile(t)
	corefile := withK8sEvent(t, suite.corefile, "k8s_event {\n        level info error warning fatal\n    }")
	if err := setCorefile(timeout(t, 3*time.Minute), corefile); err != nil {
		t.Fatalf("%v\n%s", err, diagnose(timeout(t, time.Minute)))
	}
	for _, p := range pods {
		waitEvent(t, &p, "CoreDNSInfo", "plugin/reload: Running configuration SHA512", time.Minute)
	}
}
