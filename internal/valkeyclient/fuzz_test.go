package valkeyclient

import (
	"strings"
	"testing"
)

// FuzzParseURL: any input gives a Target or a one-line error; the password
// of the input never shows in the error.
func FuzzParseURL(f *testing.F) {
	for _, s := range []string{
		"rediss://default:pw@db.example.com:25061", "redis://127.0.0.1:6379/2", "rediss://:x@", "http://host",
		"redis://host:99999", "redis://u:p%zz@h:1", "valkeys://[::1]:6380", "redis://h:1?db=3", "", "://",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		tg, err := ParseURL(raw)
		if err != nil {
			msg := err.Error()
			if strings.ContainsAny(msg, "\n\r") && !strings.ContainsAny(raw, "\n\r") {
				t.Fatalf("multi-line error %q", msg)
			}
			if i := strings.Index(raw, "://"); i >= 0 {
				auth := raw[i+3:]
				if at := strings.LastIndex(auth, "@"); at > 0 {
					if c := strings.Index(auth[:at], ":"); c >= 0 {
						// The password may also stand in the message's own text
						// ("diss:/" in "rediss://"): it leaks only if it shows
						// more often than with another password in its place.
						if pw := auth[c+1 : at]; len(pw) >= 6 && strings.Count(msg, pw) > 0 {
							other := raw[:i+3] + auth[:c+1] + strings.Repeat("Q", len(pw)) + auth[at:]
							_, err2 := ParseURL(other)
							if err2 == nil || strings.Count(msg, pw) > strings.Count(err2.Error(), pw) {
								t.Fatalf("password %q shown in %q", pw, msg)
							}
						}
					}
				}
			}
			return
		}
		if tg.Host == "" || tg.Port < 1 || tg.Port > 65535 || tg.DB < 0 {
			t.Fatalf("accepted %q as %+v", raw, tg)
		}
	})
}
