package adaptertap

import (
	"slices"
	"sort"
	"strings"

	"github.com/oxyhq/oxyctl/internal/socketio"
)

// Filter selects decoded messages.
//
//   - By default only broadcasts are shown: messages of kind broadcast, and
//     acknowledged broadcasts (classic request type BROADCAST), which the
//     classic adapter carries on the request channel.
//   - Requests adds every other request and every response.
//   - Namespaces, Rooms and Events narrow further: a message must be in one
//     of the namespaces, target one of the rooms (its `rooms`, or the room
//     of its channel), and carry one of the events.
//   - Messages that cannot be decoded (kind unknown) are always shown:
//     a message is never silently dropped because it was not understood.
type Filter struct {
	Namespaces []string
	Rooms      []string
	Events     []string
	Requests   bool
}

// Match reports whether m passes the filter.
func (f *Filter) Match(m *socketio.Message) bool {
	if m.Kind == socketio.KindUnknown {
		return true
	}
	if !f.Requests && m.Kind != socketio.KindBroadcast && !(m.Kind == socketio.KindRequest && m.Type == "BROADCAST") {
		return false
	}
	if len(f.Namespaces) > 0 && !slices.Contains(f.Namespaces, m.Namespace) {
		return false
	}
	if len(f.Events) > 0 && !slices.Contains(f.Events, m.Event) {
		return false
	}
	if len(f.Rooms) > 0 {
		hit := false
		for _, r := range f.Rooms {
			if slices.Contains(m.Rooms, r) || (m.Kind == socketio.KindBroadcast && m.ChannelRoom == r) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

// Summary counts what a tail showed.
type Summary struct {
	Messages int64
	ByKind   map[string]int64
	ByEvent  map[string]int64
	Gaps     int64
	// Dropped counts messages dropped because the reader was behind.
	Dropped int64
}

// NewSummary returns an empty summary.
func NewSummary() *Summary {
	return &Summary{ByKind: map[string]int64{}, ByEvent: map[string]int64{}}
}

// Add counts one shown message. The event name is copied, so the message
// may be reused.
func (s *Summary) Add(m *socketio.Message) {
	s.Messages++
	s.ByKind[m.Kind]++
	name := m.Event
	if name == "" {
		name = m.Type
	}
	if name == "" {
		name = "(" + m.Kind + ")"
	}
	if _, ok := s.ByEvent[name]; ok {
		s.ByEvent[name]++
		return
	}
	s.ByEvent[strings.Clone(name)] = 1
}

// Counted is one name and its count.
type Counted struct {
	Name  string
	Count int64
}

// Sorted returns the counts of m, largest first, then by name.
func Sorted(m map[string]int64) []Counted {
	out := make([]Counted, 0, len(m))
	for k, v := range m {
		out = append(out, Counted{k, v})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Name < out[j].Name
	})
	return out
}
