package k8s_event

import (
	"fmt"
	"sync"
	"unicode/utf8"
)

const (
	// maxMessageBytes bounds an Event message, marker included.
	maxMessageBytes = 1024
	// truncatedMarker ends a message that was cut to maxMessageBytes.
	truncatedMarker = " [truncated]"
)

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// formatMessage renders a log line as CoreDNS prints it after the level tag: the logger
// prefix ("plugin/NAME: ") then the text. The arguments are formatted as given, never
// reinterpreted as a format string.
func formatMessage(prefix, format string, v []any, formatted bool) string {
	bp := bufPool.Get().(*[]byte)
	buf := append((*bp)[:0], prefix...)
	if formatted {
		buf = fmt.Appendf(buf, format, v...)
	} else {
		buf = fmt.Append(buf, v...)
	}
	msg := string(clip(validUTF8(trimNewlines(buf))))
	if cap(buf) <= 4*maxMessageBytes {
		*bp = buf
		bufPool.Put(bp)
	}
	return msg
}

func trimNewlines(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// validUTF8 returns b with every byte that is not part of a UTF-8 character replaced
// by U+FFFD, as the API server's JSON encoding would store it, so that clip bounds what
// is stored: three bytes for each such byte. Only what clip may keep is replaced; b
// itself if it is UTF-8.
func validUTF8(b []byte) []byte {
	if utf8.Valid(b) {
		return b
	}
	out := make([]byte, 0, min(len(b)+2*utf8.UTFMax, maxMessageBytes+utf8.UTFMax))
	for len(b) > 0 && len(out) <= maxMessageBytes {
		r, size := utf8.DecodeRune(b)
		if r == utf8.RuneError && size == 1 {
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			out = append(out, b[:size]...)
		}
		b = b[size:]
	}
	return out
}

// clip cuts b to maxMessageBytes, ending it with truncatedMarker. It cuts before a
// multi-byte character rather than through it (b is UTF-8, see validUTF8).
func clip(b []byte) []byte {
	if len(b) <= maxMessageBytes {
		return b
	}
	end := maxMessageBytes - len(truncatedMarker)
	cut := end
	for cut > end-utf8.UTFMax && !utf8.RuneStart(b[cut]) {
		cut--
	}
	if !utf8.RuneStart(b[cut]) {
		cut = end
	}
	return append(b[:cut], truncatedMarker...)
}
