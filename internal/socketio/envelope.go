package socketio

import "fmt"

// decodeEnvelope fills m from a sharded/streams message {type, data, uid, nsp}.
func decodeEnvelope(m *Message, b []byte, format payloadFmt) error {
	env, err := decodeObject(b, format)
	if err != nil {
		return err
	}
	code, err := takeType(env)
	if err != nil {
		return fmt.Errorf("envelope: %v", err)
	}
	takeOrigin(m, env)
	if s, ok := env["nsp"].(string); ok && s == m.Namespace {
		delete(env, "nsp")
	}
	var rest map[string]any
	if data, ok := env["data"].(map[string]any); ok {
		delete(env, "data")
		takeRequestID(m, data)
		liftOptsField(m, data)
		switch code {
		case clusterBroadcast:
			if p, ok := data["packet"].(map[string]any); ok {
				if r, ok := liftPacket(m, p); ok {
					setOrDelete(data, "packet", r)
				}
			}
		case clusterServerSideEmit:
			if p, ok := data["packet"].([]any); ok {
				setEventArgs(m, p)
				delete(data, "packet")
			}
		}
		rest = data
	}
	// Envelope fields that were not lifted (an unexpected nsp, a data that is
	// not a map, unknown keys) are kept under "envelope".
	if len(env) > 0 {
		if rest == nil {
			rest = map[string]any{}
		}
		rest["envelope"] = env
	}
	m.Kind = clusterKind(code)
	setType(m, code, ClusterTypeName(code))
	setData(m, rest)
	return nil
}
