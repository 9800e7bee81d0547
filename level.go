package k8s_event

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// level is a CoreDNS log level.
type level uint8

const (
	levelDebug level = iota
	levelInfo
	levelWarning
	levelError
	levelFatal
	numLevels
)

var levelNames = [numLevels]string{"debug", "info", "warning", "error", "fatal"}

// levelReasons are the Event reasons, one per level.
var levelReasons = [numLevels]string{"CoreDNSDebug", "CoreDNSInfo", "CoreDNSWarning", "CoreDNSError", "CoreDNSFatal"}

func (lv level) String() string { return levelNames[lv] }

// reason returns the Event reason for a line of this level.
func (lv level) reason() string { return levelReasons[lv] }

// eventType returns Normal for debug and info, Warning for the rest.
func (lv level) eventType() string {
	if lv <= levelInfo {
		return corev1.EventTypeNormal
	}
	return corev1.EventTypeWarning
}

// parseLevel reads a level name, case-insensitively.
func parseLevel(s string) (level, bool) {
	for lv, name := range levelNames {
		if strings.EqualFold(s, name) {
			return level(lv), true
		}
	}
	return 0, false
}

// levelSet is a set of levels as a bit mask.
type levelSet uint8

func (s levelSet) has(lv level) bool { return s&(1<<lv) != 0 }

func (s *levelSet) add(lv level) { *s |= 1 << lv }

func (s levelSet) String() string {
	var names []string
	for lv := range numLevels {
		if s.has(lv) {
			names = append(names, lv.String())
		}
	}
	return strings.Join(names, " ")
}
