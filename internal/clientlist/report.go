package clientlist

import (
	"fmt"
	"sort"
	"strings"

	"github.com/oxyhq/oxyctl/internal/doapi"
)

// Self is how oxyctl's own connection is labelled.
const Self = "oxyctl (this run)"

// Finding kinds and severities.
const (
	KindStray    = "stray_subscriber"
	KindBuffer   = "buffer"
	KindHeadroom = "headroom"

	SevError   = "error"
	SevWarning = "warning"
)

// Grouping choices of `oxyctl clients --group`.
const (
	GroupAddr = "addr"
	GroupName = "name"
	GroupNone = "none"
)

// Type choices of `oxyctl clients --type` ("" is every client).
const (
	TypeNormal = "normal"
	TypePubSub = "pubsub"
)

// HeadroomPercent is the share of the connection cap that warns.
const HeadroomPercent = 80

// NearCap says whether count connections are at or above HeadroomPercent of
// limit (never when the limit is unknown).
func NearCap(count, limit int64) bool { return limit > 0 && count*100 >= HeadroomPercent*limit }

// Options shape a Report.
type Options struct {
	Type  string // "", TypeNormal or TypePubSub: which clients are listed
	Group string // GroupAddr (default), GroupName or GroupNone
	// Soft is the pub/sub soft output-buffer limit.
	Soft Limit
	// Resolve says what a client's host is (a Droplet, a Kubernetes node);
	// nil or "" is nothing known.
	Resolve func(host string) string
	// Channels are the classic adapter's request channels, for the stray
	// check; nil leaves it out.
	Channels []RequestChannel
	// Notes are added to the report's notes.
	Notes []string
	// Plan is the DigitalOcean plan (zero without a token): its connection
	// cap counts when lower than maxclients (doapi.ConnectionCap).
	Plan doapi.Plan
}

// Report is the JSON document of `oxyctl clients`.
type Report struct {
	Total          int64         `json:"total"`
	Cap            int64         `json:"cap"`
	CapFrom        string        `json:"cap_from"` // "maxclients" or "plan"; "" when unknown
	SoftLimitBytes int64         `json:"soft_limit_bytes"`
	SoftLimitFrom  string        `json:"soft_limit_from"`
	Groups         []Group       `json:"groups"`
	Clients        []ClientEntry `json:"clients"`
	Findings       []Finding     `json:"findings"`
	Notes          []string      `json:"notes"`
}

// Group is the clients of one address (or name).
type Group struct {
	Key         string   `json:"key"`
	ResolvesTo  string   `json:"resolves_to"`
	Connections int      `json:"connections"`
	PubSub      int      `json:"pubsub"`
	OMemBytes   int64    `json:"omem_bytes"`
	MaxIdleS    int64    `json:"max_idle_s"`
	Names       []string `json:"names"`
	Libs        []string `json:"libs"`
}

// ClientEntry is one client in the report.
type ClientEntry struct {
	ID         int64  `json:"id"`
	Addr       string `json:"addr"`
	Name       string `json:"name"`
	Lib        string `json:"lib"`
	AgeS       int64  `json:"age_s"`
	IdleS      int64  `json:"idle_s"`
	Sub        int64  `json:"sub"`
	PSub       int64  `json:"psub"`
	SSub       int64  `json:"ssub"`
	OMemBytes  int64  `json:"omem_bytes"`
	Flags      string `json:"flags"`
	ResolvesTo string `json:"resolves_to"`
	Node       string `json:"node"`
	group      string
	pubsub     bool
}

// Finding is one problem found.
type Finding struct {
	Severity string `json:"severity"`
	Kind     string `json:"kind"`
	// Client is the client's address ("" for a finding about the server).
	Client  string `json:"client"`
	Name    string `json:"name"`
	Message string `json:"message"`
}

// HasError reports whether a finding has severity error.
func (r *Report) HasError() bool {
	for _, f := range r.Findings {
		if f.Severity == SevError {
			return true
		}
	}
	return false
}

// Build turns a snapshot into the report: the clients of the chosen type,
// grouped, and the findings (strays, buffers over half the soft limit,
// connections near the cap) over every client.
func Build(snap *Snapshot, o Options) *Report {
	n := 0
	for i := range snap.Nodes {
		n += len(snap.Nodes[i].Clients)
	}
	r := &Report{Groups: []Group{}, Clients: make([]ClientEntry, 0, n), Findings: []Finding{},
		Notes: append(snap.Notes(), o.Notes...), SoftLimitBytes: o.Soft.Bytes, SoftLimitFrom: o.Soft.From}
	resolve := func(h string) string {
		if o.Resolve == nil {
			return ""
		}
		return o.Resolve(h)
	}
	for i := range snap.Nodes {
		n := &snap.Nodes[i]
		count := int64(len(n.Clients))
		if !n.Listed() {
			count = max(n.Connected, 0)
		}
		r.Total += count
		if limit, from := doapi.ConnectionCap(n.MaxClients, o.Plan); limit > 0 {
			r.Cap += limit
			r.CapFrom = from
			if NearCap(count, limit) {
				where := ""
				if len(snap.Nodes) > 1 {
					where = " on " + n.Addr
				}
				r.Findings = append(r.Findings, Finding{Severity: SevWarning, Kind: KindHeadroom,
					Message: fmt.Sprintf("%d connections%s, %d%% of %s: new connections are refused at the cap", count, where, count*100/limit, doapi.CapText(limit, from, o.Plan))})
			}
		}
		for j := range n.Clients {
			c := &n.Clients[j]
			if OverBuffer(c, o.Soft) {
				r.Findings = append(r.Findings, Finding{Severity: SevWarning, Kind: KindBuffer, Client: c.Addr, Name: c.Name,
					Message: BufferMessage(c, o.Soft)})
			}
			if o.Type == TypePubSub && !c.PubSub() || o.Type == TypeNormal && !c.Normal() {
				continue
			}
			e := ClientEntry{ID: c.ID, Addr: c.Addr, Name: c.Name, Lib: c.Lib(), AgeS: c.Age, IdleS: c.Idle,
				Sub: c.Sub, PSub: c.PSub, SSub: c.SSub, OMemBytes: c.OMem, Flags: c.Flags, Node: n.Addr, pubsub: c.PubSub()}
			if c.ID == n.SelfID && n.SelfID != 0 {
				e.ResolvesTo = Self
			} else {
				e.ResolvesTo = resolve(c.Host())
			}
			switch o.Group {
			case GroupName:
				e.group = c.Name
			case GroupNone:
			default:
				e.group = c.Host()
			}
			r.Clients = append(r.Clients, e)
		}
	}
	if o.Channels != nil {
		sr := Strays(snap, o.Channels)
		for _, s := range sr.Strays {
			r.Findings = append(r.Findings, Finding{Severity: SevError, Kind: KindStray, Client: s.Addr, Name: s.Name, Message: s.Message()})
		}
		for i := range sr.Surplus {
			if m := sr.Surplus[i].ChannelMessage(); m != "" {
				r.Findings = append(r.Findings, Finding{Severity: SevError, Kind: KindStray, Message: m})
			}
		}
	}
	sort.SliceStable(r.Findings, func(i, j int) bool {
		return r.Findings[i].Severity == SevError && r.Findings[j].Severity != SevError
	})
	sort.SliceStable(r.Clients, func(i, j int) bool {
		a, b := &r.Clients[i], &r.Clients[j]
		if a.group != b.group {
			return a.group < b.group
		}
		if a.Node != b.Node {
			return a.Node < b.Node
		}
		return a.ID < b.ID
	})
	if o.Group != GroupNone {
		r.Groups = groups(r.Clients)
	}
	return r
}

// groups sums the (sorted) clients per group key.
func groups(clients []ClientEntry) []Group {
	out := []Group{}
	var cur *Group
	var resolves []string
	self := 0 // oxyctl's own connections in the group
	flush := func() {
		if cur != nil {
			// The address oxyctl connects from may hold others' connections
			// too (an API instance on the same machine): say so, rather
			// than call the whole group oxyctl's.
			if others := cur.Connections - self; self > 0 && others > 0 {
				for i, r := range resolves {
					if r == Self {
						resolves[i] = fmt.Sprintf("%s and %d other connection%s", Self, others, map[bool]string{true: "", false: "s"}[others == 1])
					}
				}
			}
			cur.ResolvesTo = strings.Join(resolves, ", ")
			sort.Strings(cur.Names)
			sort.Strings(cur.Libs)
		}
	}
	for i := range clients {
		c := &clients[i]
		if cur == nil || cur.Key != c.group {
			flush()
			out = append(out, Group{Key: c.group, Names: []string{}, Libs: []string{}})
			cur = &out[len(out)-1]
			resolves = resolves[:0]
			self = 0
		}
		if c.ResolvesTo == Self {
			self++
		}
		cur.Connections++
		if c.pubsub {
			cur.PubSub++
		}
		cur.OMemBytes += c.OMemBytes
		cur.MaxIdleS = max(cur.MaxIdleS, c.IdleS)
		cur.Names = addUniq(cur.Names, c.Name)
		cur.Libs = addUniq(cur.Libs, c.Lib)
		resolves = addUniq(resolves, c.ResolvesTo)
	}
	flush()
	return out
}

func addUniq(list []string, s string) []string {
	if s == "" {
		return list
	}
	for _, x := range list {
		if x == s {
			return list
		}
	}
	return append(list, s)
}
