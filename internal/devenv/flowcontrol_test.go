package devenv

import (
	"maps"
	"net/http"
	"net/http/httptest"
	"testing"

	flowcontrolv1 "k8s.io/api/flowcontrol/v1"
)

// TestClassificationRecorder: each response is counted under the FlowSchema and priority
// level UIDs of its headers, and one without them under empty UIDs.
func TestClassificationRecorder(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if fs := r.URL.Query().Get("fs"); fs != "" {
			w.Header().Set(flowcontrolv1.ResponseHeaderMatchedFlowSchemaUID, fs)
			w.Header().Set(flowcontrolv1.ResponseHeaderMatchedPriorityLevelConfigurationUID, "pl-"+fs)
		}
	}))
	defer srv.Close()
	var rec ClassificationRecorder
	c := &http.Client{Transport: rec.Wrap(http.DefaultTransport)}
	for _, q := range []string{"?fs=a", "?fs=b", "?fs=a", ""} {
		resp, err := c.Get(srv.URL + q)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	want := map[Classification]int{{"a", "pl-a"}: 2, {"b", "pl-b"}: 1, {}: 1}
	if got := rec.Seen(); !maps.Equal(got, want) {
		t.Errorf("Seen() = %v, want %v", got, want)
	}
}
