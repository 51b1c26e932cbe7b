package valkeyclient

import "testing"

func TestParseInfo(t *testing.T) {
	for name, reply := range map[string]string{
		"RESP2 (CRLF)":         "# Clients\r\nconnected_clients:7\r\nmaxclients:10000\r\n\r\n# Errorstats\r\nerrorstat_NOPERM:count=3\r\nerrorstat_OOM:count=12,extra=1\r\nrole:master\r\n",
		"RESP3 verbatim (txt)": "txt:# Clients\nconnected_clients:7\nmaxclients:10000\n# Errorstats\nerrorstat_NOPERM:count=3\nerrorstat_OOM:count=12,extra=1\nrole:master\n",
	} {
		kv := ParseInfo(reply)
		if n, ok := kv.Int("connected_clients"); !ok || n != 7 {
			t.Errorf("%s: connected_clients %d %v", name, n, ok)
		}
		if n, ok := kv.Int("maxclients"); !ok || n != 10000 {
			t.Errorf("%s: maxclients %d %v", name, n, ok)
		}
		if _, ok := kv.Int("missing"); ok {
			t.Errorf("%s: a missing field reads as an integer", name)
		}
		if _, ok := kv.Int("role"); ok {
			t.Errorf("%s: role reads as an integer", name)
		}
		if kv["role"] != "master" || len(kv) != 5 {
			t.Errorf("%s: %q", name, kv)
		}
		if kv.Count("errorstat_NOPERM") != 3 || kv.Count("errorstat_OOM") != 12 || kv.Count("errorstat_NOSCRIPT") != 0 {
			t.Errorf("%s: counts %d %d %d", name, kv.Count("errorstat_NOPERM"), kv.Count("errorstat_OOM"), kv.Count("errorstat_NOSCRIPT"))
		}
	}
}
