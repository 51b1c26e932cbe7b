package adaptertap

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/oxyhq/oxyctl/internal/apperr"
	"github.com/oxyhq/oxyctl/internal/resp"
	"github.com/oxyhq/oxyctl/internal/valkeyclient"
)

// monitorSource reads SPUBLISH commands from MONITOR on one primary.
type monitorSource struct {
	cfg *Config
	n   valkeyclient.Node
}

func (s *monitorSource) node() string { return s.n.Addr }

func (s *monitorSource) session(ctx context.Context, ready func(string), deliver func(Event) bool) error {
	rc, err := s.n.Dial(ctx, s.cfg.ClientName)
	if err != nil {
		return err
	}
	defer rc.Close()
	stop := rc.Watch(ctx)
	defer stop()

	if err := rc.Write(resp.AppendCommand(nil, "MONITOR")); err != nil {
		return err
	}
	rc.Expect()
	if _, err := rc.R.ReadSimple(); err != nil {
		var re *resp.Error
		if errors.As(err, &re) {
			kind := apperr.KindConnect
			if valkeyclient.IsAuthReply(re.Msg) {
				kind = apperr.KindAuth
			}
			return apperr.Runtime(kind, fmt.Errorf("MONITOR refused by %s: %s", s.n.Addr, re.Msg),
				"the server or its ACL does not allow MONITOR; --sharded-subscribe reads sharded traffic with SSUBSCRIBE instead, but that raises SHARDNUMSUB and makes fetchSockets() time out in the running app")
		}
		return err
	}
	rc.Wait()
	ready("MONITOR (SPUBLISH " + s.cfg.Key + "#...)")

	prefix := []byte(s.cfg.Key + "#")
	var nsPrefixes [][]byte
	for _, n := range s.cfg.Namespaces {
		nsPrefixes = append(nsPrefixes, []byte(s.cfg.Key+"#"+n+"#"))
	}
	for {
		line, err := rc.R.ReadSimple()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if !monitorCommandIs(line, "SPUBLISH") {
			continue
		}
		ml, err := ParseMonitorLine(line)
		if err != nil || len(ml.Args) != 3 {
			continue // not an SPUBLISH we can read; nothing to decode
		}
		ch := ml.Args[1]
		if !bytes.HasPrefix(ch, prefix) {
			continue
		}
		if len(nsPrefixes) > 0 && !hasAnyPrefix(ch, nsPrefixes) {
			continue
		}
		if !deliver(Event{Kind: EventMessage, Time: ml.Time, Channel: string(ch), Payload: string(ml.Args[2]), Node: s.n.Addr}) {
			return nil
		}
	}
}

func hasAnyPrefix(b []byte, prefixes [][]byte) bool {
	for _, p := range prefixes {
		if bytes.HasPrefix(b, p) {
			return true
		}
	}
	return false
}
