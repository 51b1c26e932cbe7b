package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// The DigitalOcean API answering with a redirect to another host, or to
// plain http: the other host never sees the token, no write follows it, and
// the command fails with an API error. (Before: the token followed every
// redirect, and a redirected firewall PUT became a GET that "succeeded".)
func TestRedirectedAPINeverGetsTheToken(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Method+" auth="+r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"databases":[],"rules":[]}`))
	}))
	defer other.Close()
	for _, code := range []int{301, 302, 307, 308} {
		api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, other.URL+r.URL.Path, code)
		}))
		env := map[string]string{"DIGITALOCEAN_ACCESS_TOKEN": token, "DIGITALOCEAN_API_URL": api.URL}
		for _, args := range [][]string{{"firewall", "list"}, {"firewall", "apply", "--yes", "--policy", writeFile(t, "p.yaml", goodPolicy)}} {
			r := oxyctl(t, env, append(args, "-o", "json")...)
			checkError(t, r, 3, "api", true)
			if !strings.Contains(r.stderr, "redirect") {
				t.Errorf("%d %v: %s", code, args, r.stderr)
			}
			noSecrets(t, r.stdout, r.stderr)
		}
		api.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	for _, s := range seen {
		if strings.Contains(s, "Bearer") || strings.HasPrefix(s, "PUT") {
			t.Errorf("the other host got %s", s)
		}
	}
}
