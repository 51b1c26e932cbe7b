package clientlist

import (
	"context"
	"fmt"
	"strings"

	"github.com/valkey-io/valkey-go"

	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// Node is what one server says about its clients.
type Node struct {
	Addr string
	// Clients are the server's connections; nil when CLIENT LIST could not
	// be read (Note says why).
	Clients []Client
	// SelfID is the id of the connection the reading went over (CLIENT
	// ID), 0 when unknown.
	SelfID int64
	// Connected and MaxClients are INFO clients' connected_clients and
	// maxclients (-1 when unknown).
	Connected, MaxClients int64
	// OutputBufferDisconnections is INFO stats'
	// client_output_buffer_limit_disconnections (-1 when unknown).
	OutputBufferDisconnections int64
	// Note says what could not be read ("" when everything was).
	Note string
}

// Listed reports whether CLIENT LIST was read.
func (n *Node) Listed() bool { return n.Clients != nil }

// Snapshot is every node's reading.
type Snapshot struct {
	Nodes []Node
}

// Notes are the nodes' notes, prefixed with the node in a cluster.
func (s *Snapshot) Notes() []string {
	out := []string{}
	for _, n := range s.Nodes {
		if n.Note == "" {
			continue
		}
		if len(s.Nodes) > 1 {
			out = append(out, n.Addr+": "+n.Note)
		} else {
			out = append(out, n.Note)
		}
	}
	return out
}

// RefusedNote is the note of a node whose CLIENT LIST is refused;
// UnsupportedNote of one that does not know it (a Redis-compatible server).
const (
	RefusedNote     = "could not look: CLIENT LIST is refused by the server"
	UnsupportedNote = "could not look: the server has no CLIENT LIST"
)

// Read asks every node, at once, for CLIENT ID and CLIENT LIST (in one
// pipeline, so that the id is the listing connection's own) and for INFO
// clients and stats. A refused CLIENT LIST or INFO is a note on that node;
// any other failure is an error.
func Read(ctx context.Context, conn *valkeyclient.Conn) (*Snapshot, error) {
	type result struct {
		node Node
		err  error
	}
	res := valkeyclient.EachNode(conn.Nodes(), func(n valkeyclient.Node) result {
		node, err := readNode(ctx, n)
		return result{node, err}
	}, func(n valkeyclient.Node, p any) result {
		return result{err: fmt.Errorf("internal error (a bug) reading %s: %v", n.Addr, p)}
	})
	snap := &Snapshot{}
	for _, r := range res {
		if r.err != nil {
			return nil, r.err
		}
		snap.Nodes = append(snap.Nodes, r.node)
	}
	return snap, nil
}

func readNode(ctx context.Context, n valkeyclient.Node) (Node, error) {
	c := n.Client
	node := Node{Addr: n.Addr, Connected: -1, MaxClients: -1, OutputBufferDisconnections: -1}
	var notes []string
	res := c.DoMulti(ctx,
		c.B().ClientId().Build(),
		c.B().ClientList().Build(),
		c.B().Info().Section("clients").Build(),
		c.B().Info().Section("stats").Build(),
	)
	// A server that answers CLIENT ID with an error (refused, or a
	// Redis-compatible one without it: "unknown subcommand") only leaves
	// oxyctl's own connection unlabelled.
	if id, err := res[0].AsInt64(); err == nil {
		node.SelfID = id
	} else if _, reply := valkey.IsValkeyErr(err); !reply {
		return node, fmt.Errorf("CLIENT ID on %s: %w", n.Addr, err)
	}
	list, err := res[1].ToString()
	switch {
	case err == nil:
		// RESP3 answers with a verbatim string, which keeps its format.
		list = strings.TrimPrefix(list, "txt:")
		if node.Clients, err = Parse(list, make([]Client, 0, strings.Count(list, "\n")+1)); err != nil {
			return node, fmt.Errorf("%s: %w", n.Addr, err)
		}
	case valkeyclient.IsRefused(err):
		notes = append(notes, RefusedNote)
	case valkeyclient.IsUnsupported(err):
		notes = append(notes, UnsupportedNote)
	default:
		return node, fmt.Errorf("CLIENT LIST on %s: %w", n.Addr, err)
	}
	for i, section := range []string{"clients", "stats"} {
		info, err := res[2+i].ToString()
		if valkeyclient.IsRefused(err) {
			notes = append(notes, "could not look: INFO "+section+" is refused by the server")
			continue
		}
		if valkeyclient.IsUnsupported(err) {
			notes = append(notes, "could not look: INFO "+section+" is not supported by the server")
			continue
		}
		if err != nil {
			return node, fmt.Errorf("INFO %s on %s: %w", section, n.Addr, err)
		}
		kv := valkeyclient.ParseInfo(info)
		field := func(name string) int64 {
			if x, ok := kv.Int(name); ok {
				return x
			}
			return -1
		}
		if section == "clients" {
			node.Connected, node.MaxClients = field("connected_clients"), field("maxclients")
		} else {
			node.OutputBufferDisconnections = field("client_output_buffer_limit_disconnections")
		}
	}
	node.Note = strings.Join(notes, "; ")
	return node, nil
}
