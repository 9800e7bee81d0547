package k8s_event

import clog "github.com/coredns/coredns/plugin/pkg/log"

const pluginName = "k8s_event"

var log = clog.NewWithPlugin(pluginName)

// loggerPrefix returns how CoreDNS's plugin logger names a plugin to log listeners.
func loggerPrefix(name string) string { return "plugin/" + name + ": " }

// selfPrefix is this plugin's own logger: its lines are never reported, so a failing
// event write cannot feed on itself.
var selfPrefix = loggerPrefix(pluginName)

// isPluginName reports whether s can be a plugin's name as a Corefile writes it.
func isPluginName(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
