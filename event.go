package k8s_event

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/record"
)

// component is the events' reporting component, and their source component when the
// line's plugin is unknown.
const component = "CoreDNS"

// sourceComponent returns the source component of an event whose line the plugin named
// plugin logged: CoreDNS/NAME (CoreDNS/errors). Event exporters match the source
// component but not the event's annotations (their annotation rules read the involved
// object's), and the API server selects events on it (`--field-selector
// source=CoreDNS/errors`); the reporting component stays CoreDNS for every event.
func sourceComponent(plugin string) string {
	if plugin == "" {
		return component
	}
	return component + "/" + plugin
}

// pluginAnnotation names the plugin that logged an event's line, so that event exporters
// and alert rules can tell the lines of one plugin from another's without parsing
// messages.
const pluginAnnotation = "coredns.io/plugin"

// aggregateByPlugin returns client-go's aggregation key, by source, involved object, type and
// reason, with the plugin that logged the line added (see pluginOfMessage); the local
// key is the message, as there.
func aggregateByPlugin(e *corev1.Event) (string, string) {
	key, local := record.EventAggregatorByReasonFunc(e)
	return key + "\x00" + pluginOfMessage(e.Message), local
}

// combinedPrefix starts the message of an event that stands for similar lines, as
// client-go's correlator writes it.
const combinedPrefix = "(combined from similar events): "

// combinedMessage returns the message of an aggregated event: the latest line's, after
// combinedPrefix.
func combinedMessage(e *corev1.Event) string { return combinedPrefix + e.Message }

// pluginOfMessage returns the plugin named at the start of an event message, as
// formatMessage and combinedMessage write it, or "". The message is the one place a
// line's plugin travels through client-go: the correlator keeps it in the events it
// makes for aggregated lines, where it drops annotations; the aggregation key, the
// annotation and the source component are read from it.
func pluginOfMessage(msg string) string {
	msg = strings.TrimPrefix(msg, combinedPrefix)
	name, ok := strings.CutPrefix(msg, "plugin/")
	if !ok {
		return ""
	}
	name, _, ok = strings.Cut(name, ": ")
	if !ok || !isPluginName(name) {
		return ""
	}
	return name
}

// complete fills in what an event lacks when it reaches the sink, on a copy, ref being
// the involved object as it is now: the Pod UID, if the lookup found it after e was
// recorded, so that lines logged at start-up, before the API could be reached, are
// shown by kubectl describe pod too; and, from the plugin its message names, the plugin
// annotation and the source component (sourceComponent), which the eventRecorder's one
// recorder cannot set per line.
func complete(e *corev1.Event, ref *corev1.ObjectReference) *corev1.Event {
	obj := &e.InvolvedObject
	needsUID := obj.UID == "" && ref.UID != "" && obj.Kind == ref.Kind && obj.Name == ref.Name && obj.Namespace == ref.Namespace
	plugin := pluginOfMessage(e.Message)
	annotate := plugin != "" && e.Annotations[pluginAnnotation] != plugin
	source := sourceComponent(plugin)
	if !needsUID && !annotate && e.Source.Component == source {
		return e
	}
	c := *e
	if needsUID {
		c.InvolvedObject.UID = ref.UID
	}
	if annotate {
		c.Annotations = make(map[string]string, len(e.Annotations)+1)
		for k, v := range e.Annotations {
			c.Annotations[k] = v
		}
		c.Annotations[pluginAnnotation] = plugin
	}
	c.Source.Component = source
	return &c
}

// asRecorded returns out, the Event the API stored for e, with the fields complete may
// have changed put back as they were in e: client-go's correlator files the Event the sink
// returns under a key made of them, and looks the next line up under the key of the
// Event it recorded. With two keys a written line would take two of the CACHESIZE
// entries, and a repeat would not find the Event to patch.
func asRecorded(out, e *corev1.Event) *corev1.Event {
	if out == nil || (out.Source == e.Source && out.InvolvedObject.UID == e.InvolvedObject.UID) {
		return out
	}
	c := *out
	c.Source = e.Source
	c.InvolvedObject.UID = e.InvolvedObject.UID
	return &c
}
