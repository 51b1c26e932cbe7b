package ratelimit

// The Lua scripts rate-limit-redis loads with SCRIPT LOAD and runs with
// EVALSHA, by their SHA1, so that `SCRIPT EXISTS` tells whether (and which
// version of) the API's limiter has run on a server since its script cache
// was last emptied (a restart, a failover, SCRIPT FLUSH).
//
// Each Text is exactly what the library sends (its dist/index.cjs builds the
// text from a template literal with .replaceAll(/^\s+/gm, "").trim(), which
// keeps trailing spaces, such as those after INCR in 6.0.1). A test checks
// SHA1 against Text, and an interop test checks SHA1 against what the real
// library loaded (testdata/interop/ratelimit-v8 and -v7).

// Script roles.
const (
	RoleIncrement = "increment" // run on every limited request
	RoleGet       = "get"       // run by store.get (only on demand)
)

// Library is the npm package whose scripts are listed.
const Library = "rate-limit-redis"

// Script is one script of one library version.
type Script struct {
	SHA1    string
	Library string
	Version string
	Role    string
	Text    string
}

// getScript is the same text in 4.3.1 and 6.0.1.
const getScript = "local totalHits = redis.call(\"GET\", KEYS[1])\n" +
	"local timeToExpire = redis.call(\"PTTL\", KEYS[1])\n" +
	"return { totalHits, timeToExpire }"

// Scripts are the known scripts, newest version first. The get script is
// shared by both versions (same text, same SHA1), so the increment script
// tells the versions apart.
var Scripts = []Script{
	{SHA1: "895b92e1712734e1b464999be23953485475357b", Library: Library, Version: "6.0.1", Role: RoleIncrement,
		Text: "local windowMs = tonumber(ARGV[1])\n" +
			"local timeToExpire = redis.call(\"PTTL\", KEYS[1])\n" +
			"if timeToExpire <= 0 then\n" +
			"redis.call(\"SET\", KEYS[1], 1, \"PX\", windowMs)\n" +
			"return { 1, windowMs }\n" +
			"end\n" +
			"local totalHits = redis.call(\"INCR\", KEYS[1])        \n" +
			"return { totalHits, timeToExpire }"},
	{SHA1: "6aeb97ed6086dcdeafdc6fda3999a0d0e38ec96a", Library: Library, Version: "6.0.1", Role: RoleGet, Text: getScript},
	{SHA1: "81dbecea94d2d10514719b20ed51faf711529d9d", Library: Library, Version: "4.3.1", Role: RoleIncrement,
		Text: "local windowMs = tonumber(ARGV[2])\n" +
			"local resetOnChange = ARGV[1] == \"1\"\n" +
			"local timeToExpire = redis.call(\"PTTL\", KEYS[1])\n" +
			"if timeToExpire <= 0 then\n" +
			"redis.call(\"SET\", KEYS[1], 1, \"PX\", windowMs)\n" +
			"return { 1, windowMs }\n" +
			"end\n" +
			"local totalHits = redis.call(\"INCR\", KEYS[1])\n" +
			"if resetOnChange then\n" +
			"redis.call(\"PEXPIRE\", KEYS[1], windowMs)\n" +
			"timeToExpire = windowMs\n" +
			"end\n" +
			"return { totalHits, timeToExpire }"},
	{SHA1: "6aeb97ed6086dcdeafdc6fda3999a0d0e38ec96a", Library: Library, Version: "4.3.1", Role: RoleGet, Text: getScript},
}

// ScriptSHAs are the distinct SHA1s of Scripts, in order: the arguments of
// one SCRIPT EXISTS. The slice is shared: do not modify it.
func ScriptSHAs() []string { return scriptSHAs }

// scriptSHAs is ScriptSHAs, made once.
var scriptSHAs = func() []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range Scripts {
		if !seen[s.SHA1] {
			seen[s.SHA1] = true
			out = append(out, s.SHA1)
		}
	}
	return out
}()
