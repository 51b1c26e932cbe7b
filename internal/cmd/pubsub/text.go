package pubsub

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/oxyhq/oxyctl/internal/socketio"
)

// Limits of the text summary of one value.
const (
	maxSummaryDepth = 3
	maxStringShown  = 80
	maxItemsShown   = 8
)

// summarize renders a decoded value compactly for a text line: JSON-like,
// binary as <N bytes>, long strings and long lists cut.
func summarize(v any, depth int) string {
	switch v := v.(type) {
	case nil:
		return "null"
	case string:
		if len(v) > maxStringShown {
			cut := maxStringShown
			for cut > 0 && !isRuneStart(v[cut]) {
				cut--
			}
			return strconv.Quote(v[:cut]) + "…"
		}
		return strconv.Quote(v)
	case bool:
		return strconv.FormatBool(v)
	case int64:
		return strconv.FormatInt(v, 10)
	case uint64:
		return strconv.FormatUint(v, 10)
	case int:
		return strconv.Itoa(v)
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return "null"
		}
		return strconv.FormatFloat(v, 'g', -1, 64)
	case json.Number:
		return string(v)
	case socketio.Binary:
		return fmt.Sprintf("<%d bytes>", len(v.Data))
	case *socketio.Binary:
		if v == nil {
			return "null"
		}
		return fmt.Sprintf("<%d bytes>", len(v.Data))
	case []byte:
		return fmt.Sprintf("<%d bytes>", len(v))
	case []string:
		items := make([]any, len(v))
		for i, s := range v {
			items[i] = s
		}
		return summarize(items, depth)
	case []any:
		if depth >= maxSummaryDepth {
			return fmt.Sprintf("[…%d]", len(v))
		}
		var parts []string
		for i, x := range v {
			if i == maxItemsShown {
				parts = append(parts, fmt.Sprintf("…%d more", len(v)-maxItemsShown))
				break
			}
			parts = append(parts, summarize(x, depth+1))
		}
		return "[" + strings.Join(parts, ",") + "]"
	case map[string]any:
		if depth >= maxSummaryDepth {
			return fmt.Sprintf("{…%d}", len(v))
		}
		keys := sortedKeys(v)
		var parts []string
		for i, k := range keys {
			if i == maxItemsShown {
				parts = append(parts, fmt.Sprintf("…%d more", len(keys)-maxItemsShown))
				break
			}
			parts = append(parts, strconv.Quote(k)+":"+summarize(v[k], depth+1))
		}
		return "{" + strings.Join(parts, ",") + "}"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("%v", v)
	}
	return string(b)
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// summarizeFlags renders flags as volatile,compress=false,timeout=1000.
func summarizeFlags(f map[string]any) string {
	var parts []string
	for _, k := range sortedKeys(f) {
		if b, ok := f[k].(bool); ok && b {
			parts = append(parts, k)
			continue
		}
		parts = append(parts, k+"="+summarize(f[k], maxSummaryDepth-1))
	}
	return strings.Join(parts, ",")
}

// truncateWidth cuts a (possibly styled) line to width cells.
func truncateWidth(s string, width int) string {
	if ansi.StringWidth(s) <= width {
		return s
	}
	return ansi.Truncate(s, width, "…")
}
