"use strict";
// Two Socket.IO servers (A and B) in one Node process, each with its own
// pair of Valkey connections, sharing @socket.io/redis-adapter the way two
// Oxy API instances do. Socket.IO clients connect to both. A control HTTP
// server lets the Go tests trigger known emits and read what happened.
//
// Environment:
//   REDIS_URL            redis://[user:pw@]host:port or rediss://... (required)
//   REDIS_CA             PEM CA file for rediss:// (optional)
//   ADAPTER              classic (createAdapter, default) | sharded (createShardedAdapter)
//   KEY                  classic: the adapter `key`; sharded: `channelPrefix` (default socket.io)
//   SUBSCRIPTION_MODE    sharded only: dynamic (default) | static | dynamic-private
//   REQUESTS_TIMEOUT     adapter requestsTimeout in ms (default 5000)
//   SPECIFIC_RESPONSE_CHANNEL=1  classic only: publishOnSpecificResponseChannel
//   PORT                 control port (default 0 = random); HOST (default 127.0.0.1)
//   LOCAL_ADDRESS_A, LOCAL_ADDRESS_B  the source address of server A's (B's)
//                        Valkey connections, e.g. 127.0.0.2, as if each ran on its own host
//
// Control endpoints (JSON):
//   GET  /uids       {"adapter","key","A":{"/":uid,"/chat":uid},"B":{...}}
//   GET  /clients    the client sockets: name, server, namespace, id, rooms
//   GET  /received   every event the clients received so far (?since=N)
//   GET  /server-events  server-side events received by A and B (?since=N)
//   GET  /scenarios  the scenario names
//   POST /emit       {"scenario": NAME, "from": "A"|"B", "wait_ms": N, "room": R,
//                    "count": N, "size": N (flood: N broadcasts of N bytes)}
//                    makes server `from` (default A) emit; answers with what
//                    was emitted and what the clients / servers received.
// Prints "READY <control port>" on stdout once every client is connected and
// both servers see each other through the adapter.

const http = require("node:http");
const { Server } = require("socket.io");
const { io: ioc } = require("socket.io-client");
const { createAdapter, createShardedAdapter } = require("@socket.io/redis-adapter");
const { Redis } = require("ioredis");
const StandaloneConnector = require("ioredis/built/connectors/StandaloneConnector").default;
const net = require("node:net");
const tls = require("node:tls");
const lib = require("../common/lib.js");

const ADAPTER = process.env.ADAPTER || "classic";
const KEY = process.env.KEY || "socket.io";
const NAMESPACES = ["/", "/chat"];
const REQUESTS_TIMEOUT = Number(process.env.REQUESTS_TIMEOUT || 5000);

// Client sockets: which server, namespace and rooms (joined on connect).
const CLIENTS = [
  { name: "a1", server: "A", nsp: "/", rooms: ["room1"] },
  { name: "a2", server: "A", nsp: "/", rooms: ["room2"] },
  { name: "a3", server: "A", nsp: "/", rooms: ["room1", "room3"] },
  { name: "a4", server: "A", nsp: "/chat", rooms: ["lobby"] },
  { name: "b1", server: "B", nsp: "/", rooms: ["room1"] },
  { name: "b2", server: "B", nsp: "/", rooms: ["room2", "room3"] },
  { name: "b3", server: "B", nsp: "/", rooms: [] },
  { name: "b4", server: "B", nsp: "/chat", rooms: ["lobby"] },
  { name: "b5", server: "B", nsp: "/chat", rooms: [] },
];

const servers = {}; // name -> {io, http, pub, sub, port}
const clients = {}; // name -> {socket, spec}
const received = []; // {seq, client, server, namespace, event, args}
const serverEvents = []; // {seq, server, namespace, event, args}
let seq = 0;

function adapterFor(pub, sub) {
  const opts = { requestsTimeout: REQUESTS_TIMEOUT };
  if (ADAPTER === "classic") {
    opts.key = KEY;
    if (process.env.SPECIFIC_RESPONSE_CHANNEL === "1") opts.publishOnSpecificResponseChannel = true;
    return createAdapter(pub, sub, opts);
  }
  if (ADAPTER === "sharded") {
    opts.channelPrefix = KEY;
    if (process.env.SUBSCRIPTION_MODE) opts.subscriptionMode = process.env.SUBSCRIPTION_MODE;
    return createShardedAdapter(pub, sub, opts);
  }
  throw new Error(`ADAPTER=${ADAPTER}: want classic or sharded`);
}

// boundConnector makes ioredis connect from localAddress (ioredis passes no
// such option to net.connect itself).
function boundConnector(localAddress) {
  return class extends StandaloneConnector {
    connect() {
      const { options } = this;
      this.connecting = true;
      return new Promise((resolve, reject) => {
        process.nextTick(() => {
          if (!this.connecting) return reject(new Error("Connection is closed."));
          const o = Object.assign({ host: options.host, port: options.port, localAddress }, options.tls || {});
          try {
            this.stream = options.tls ? tls.connect(o) : net.createConnection(o);
          } catch (err) {
            return reject(err);
          }
          this.stream.once("error", (err) => {
            this.firstError = err;
          });
          resolve(this.stream);
        });
      });
    }
  };
}

async function startServer(name) {
  const local = process.env[`LOCAL_ADDRESS_${name}`];
  const extra = local ? { Connector: boundConnector(local) } : {};
  const pub = lib.redisFromEnv(Redis, `oxyctl-interop-sio-${name}-pub`, extra);
  const sub = lib.redisFromEnv(Redis, `oxyctl-interop-sio-${name}-sub`, extra);
  await Promise.all([lib.waitReady(pub, 15000), lib.waitReady(sub, 15000)]);
  const httpServer = http.createServer();
  const io = new Server(httpServer, { adapter: adapterFor(pub, sub) });
  for (const nsp of NAMESPACES) {
    const n = io.of(nsp);
    n.on("connection", (socket) => {
      const auth = socket.handshake.auth || {};
      socket.data.name = auth.name;
      if (Array.isArray(auth.rooms) && auth.rooms.length) socket.join(auth.rooms);
    });
    // Server-side events sent by the other server with serverSideEmit.
    for (const ev of ["hello", "ping-server", "blob"]) {
      n.on(ev, (...args) => {
        const cb = typeof args[args.length - 1] === "function" ? args.pop() : null;
        serverEvents.push({ seq: ++seq, server: name, namespace: nsp, event: ev, args: lib.toWire(args) });
        if (cb) cb({ server: name, event: ev });
      });
    }
  }
  await new Promise((resolve, reject) => {
    httpServer.once("error", reject);
    httpServer.listen(0, "127.0.0.1", resolve);
  });
  servers[name] = { io, http: httpServer, pub, sub, port: httpServer.address().port };
}

function connectClient(spec) {
  const { port } = servers[spec.server];
  const socket = ioc(`http://127.0.0.1:${port}${spec.nsp === "/" ? "" : spec.nsp}`, {
    transports: ["websocket"],
    forceNew: true,
    auth: { name: spec.name, rooms: spec.rooms },
  });
  socket.onAny((event, ...args) => {
    const ack = typeof args[args.length - 1] === "function" ? args.pop() : null;
    received.push({ seq: ++seq, client: spec.name, server: spec.server, namespace: spec.nsp, event, args: lib.toWire(args) });
    if (ack) ack({ client: spec.name, server: spec.server });
  });
  clients[spec.name] = { socket, spec };
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`client ${spec.name} did not connect within 10 s`)), 10000);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function uids() {
  const out = { adapter: ADAPTER, key: KEY };
  for (const [name, s] of Object.entries(servers)) {
    out[name] = {};
    for (const nsp of NAMESPACES) out[name][nsp] = s.io.of(nsp).adapter.uid;
  }
  return out;
}

// serverSocket returns the server-side socket of client `name`.
function serverSocket(name) {
  const c = clients[name];
  return servers[c.spec.server].io.of(c.spec.nsp).sockets.get(c.socket.id);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Each scenario returns the description of what it emitted, plus a result
// for requests that have one. `io` is the emitting server.
const SCENARIOS = {
  all: (io) => {
    const args = [{ headline: "hello", n: 1 }];
    io.emit("news", ...args);
    return { event: "news", args, rooms: [], except: [], flags: {} };
  },
  room: (io, req) => {
    const room = req.room || "room1";
    const args = ["x", 42];
    io.to(room).emit("roomEvent", ...args);
    return { event: "roomEvent", args, rooms: [room], except: [], flags: {} };
  },
  "rooms-except": (io) => {
    const args = [{ n: 2 }];
    io.to(["room1", "room2"]).except("room3").emit("multi", ...args);
    return { event: "multi", args, rooms: ["room1", "room2"], except: ["room3"], flags: {} };
  },
  chat: (io) => {
    const args = [{ text: "hi lobby" }];
    io.of("/chat").to("lobby").emit("message", ...args);
    return { namespace: "/chat", event: "message", args, rooms: ["lobby"], except: [], flags: {} };
  },
  "chat-all": (io) => {
    const args = ["welcome"];
    io.of("/chat").emit("announcement", ...args);
    return { namespace: "/chat", event: "announcement", args, rooms: [], except: [], flags: {} };
  },
  binary: (io) => {
    const args = [Buffer.from([0xde, 0xad, 0xbe, 0xef]), { name: "x.bin", parts: [Buffer.from([1, 2, 3])] }];
    io.emit("file", ...args);
    return { event: "file", args, rooms: [], except: [], flags: {} };
  },
  volatile: (io) => {
    const args = [7];
    io.volatile.emit("tick", ...args);
    return { event: "tick", args, rooms: [], except: [], flags: { volatile: true } };
  },
  "volatile-compress": (io) => {
    const args = [8];
    io.volatile.compress(false).emit("tick", ...args);
    return { event: "tick", args, rooms: [], except: [], flags: { volatile: true, compress: false } };
  },
  "to-socket-id": (io, req, from) => {
    const target = clients[req.target || (from === "A" ? "b3" : "a2")];
    const args = ["just you"];
    io.to(target.socket.id).emit("direct", ...args);
    return { event: "direct", args, rooms: [target.socket.id], except: [], flags: {} };
  },
  "from-socket": (io, req, from) => {
    const socket = serverSocket(from === "A" ? "a1" : "b1");
    const args = ["from a socket"];
    socket.broadcast.emit("fromSocket", ...args);
    return { event: "fromSocket", args, rooms: [], except: [socket.id], flags: {} };
  },
  "socket-to-room": (io, req, from) => {
    const socket = serverSocket(from === "A" ? "a1" : "b1");
    const args = ["to room2"];
    socket.to("room2").emit("fromSocket", ...args);
    return { event: "fromSocket", args, rooms: ["room2"], except: [socket.id], flags: {} };
  },
  ack: (io) => ackScenario(io, null),
  "room-ack": (io, req) => ackScenario(io, req.room || "room1"),
  "fetch-sockets": async (io, req) => {
    const target = req.room ? io.in(req.room) : io;
    const desc = { event: null, args: [], rooms: req.room ? [req.room] : [], except: [], flags: {} };
    try {
      const sockets = await target.fetchSockets();
      return {
        ...desc,
        count: sockets.length,
        sockets: sockets.map((s) => ({ id: s.id, name: s.data.name || null, rooms: [...s.rooms] })),
      };
    } catch (err) {
      return { ...desc, ok: false, error: err.message };
    }
  },
  "all-rooms": async (io) => {
    const desc = { event: null, args: [], rooms: [], except: [], flags: {} };
    try {
      const rooms = await io.of("/").adapter.allRooms();
      return { ...desc, all_rooms: [...rooms].sort() };
    } catch (err) {
      return { ...desc, ok: false, error: err.message };
    }
  },
  "server-side-emit": (io) => {
    const args = ["world", 1];
    io.serverSideEmit("hello", ...args);
    return { event: "hello", args, rooms: [], except: [], flags: {} };
  },
  "server-side-emit-ack": (io) => {
    const args = [{ q: "ping" }];
    return new Promise((resolve) => {
      io.serverSideEmit("ping-server", ...args, (err, responses) => {
        const out = { event: "ping-server", args, rooms: [], except: [], flags: {}, responses: responses || [] };
        if (err) Object.assign(out, { ok: false, error: err.message });
        resolve(out);
      });
    });
  },
  "server-side-emit-binary": (io) => {
    const args = [Buffer.from([0xca, 0xfe])];
    io.serverSideEmit("blob", ...args);
    return { event: "blob", args, rooms: [], except: [], flags: {} };
  },
  "sockets-join": async (io) => {
    io.in("room1").socketsJoin("room9");
    return { event: null, args: [], rooms: ["room1"], except: [], flags: {}, join_rooms: ["room9"] };
  },
  "sockets-leave": async (io) => {
    io.in("room1").socketsLeave("room9");
    return { event: null, args: [], rooms: ["room1"], except: [], flags: {}, leave_rooms: ["room9"] };
  },
  flood: (io, req) => {
    // count broadcasts of size bytes to a room nobody is in: every adapter
    // instance's pattern subscription receives them all.
    const count = Number(req.count || 100);
    const payload = "x".repeat(Number(req.size || 65536));
    for (let i = 0; i < count; i++) io.to("flood-nobody").emit("flood", i, payload);
    return { event: "flood", args: [count], rooms: ["flood-nobody"], except: [], flags: {} };
  },
  "disconnect-sockets": async (io) => {
    // A room nobody is in: the request is published but disconnects no one.
    io.in("nobody").disconnectSockets(true);
    return { event: null, args: [], rooms: ["nobody"], except: [], flags: {}, close: true };
  },
};

function ackScenario(io, room) {
  const args = [{ q: "ack?" }];
  const target = room ? io.to(room) : io;
  return new Promise((resolve) => {
    target.timeout(1000).emit("ping-ack", ...args, (err, responses) => {
      const out = { event: "ping-ack", args, rooms: room ? [room] : [], except: [], flags: { timeout: 1000 }, responses: responses || [] };
      if (err) Object.assign(out, { ok: false, error: err.message });
      resolve(out);
    });
  });
}

async function emit(req) {
  const scenario = SCENARIOS[req.scenario];
  if (!scenario) {
    return [400, { ok: false, error: `unknown scenario ${JSON.stringify(req.scenario)}; known: ${Object.keys(SCENARIOS).join(", ")}` }];
  }
  const from = req.from || "A";
  if (!servers[from]) return [400, { ok: false, error: `from must be A or B, not ${JSON.stringify(from)}` }];
  const ids = uids();
  const mark = seq;
  const desc = await scenario(servers[from].io, req, from);
  const namespace = desc.namespace || "/";
  const waitMs = req.wait_ms === undefined ? 200 : Number(req.wait_ms);
  if (waitMs > 0) await sleep(waitMs);
  const result = {
    ok: true,
    scenario: req.scenario,
    adapter: ADAPTER,
    key: KEY,
    from,
    ...desc,
    namespace,
    origin_uid: ids[from][namespace],
    uids: ids,
    received: received.filter((r) => r.seq > mark && desc.event && r.event === desc.event),
    server_events: serverEvents.filter((r) => r.seq > mark),
  };
  result.args = lib.toWire(desc.args);
  if (desc.responses) result.responses = lib.toWire(desc.responses);
  return [200, result];
}

async function control(req, res) {
  const url = new URL(req.url, "http://control");
  const since = Number(url.searchParams.get("since") || 0);
  try {
    if (req.method === "GET" && url.pathname === "/uids") return lib.sendJSON(res, 200, uids());
    if (req.method === "GET" && url.pathname === "/scenarios") return lib.sendJSON(res, 200, Object.keys(SCENARIOS));
    if (req.method === "GET" && url.pathname === "/received") return lib.sendJSON(res, 200, received.filter((r) => r.seq > since));
    if (req.method === "GET" && url.pathname === "/server-events") return lib.sendJSON(res, 200, serverEvents.filter((r) => r.seq > since));
    if (req.method === "GET" && url.pathname === "/clients") {
      const list = Object.values(clients).map(({ socket, spec }) => {
        const s = servers[spec.server].io.of(spec.nsp).sockets.get(socket.id);
        return { name: spec.name, server: spec.server, namespace: spec.nsp, id: socket.id, connected: socket.connected, rooms: s ? [...s.rooms] : [] };
      });
      return lib.sendJSON(res, 200, list);
    }
    if (req.method === "POST" && url.pathname === "/emit") {
      const body = await lib.readBody(req);
      const [status, out] = await emit(body);
      return lib.sendJSON(res, status, out);
    }
    return lib.sendJSON(res, 404, { ok: false, error: `no route ${req.method} ${url.pathname}` });
  } catch (err) {
    lib.log(`control ${req.method} ${url.pathname}: ${err && err.stack ? err.stack : err}`);
    return lib.sendJSON(res, 500, { ok: false, error: String(err && err.message ? err.message : err) });
  }
}

// waitServerCount polls until every namespace adapter of every server sees
// `want` servers (both adapters subscribed), or gives up after ms.
async function waitServerCount(want, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    const counts = [];
    for (const s of Object.values(servers)) {
      for (const nsp of NAMESPACES) counts.push(await s.io.of(nsp).adapter.serverCount());
    }
    if (counts.every((c) => c >= want)) return;
    if (Date.now() > deadline) throw new Error(`adapters see ${counts.join(",")} servers, want ${want} (after ${ms} ms)`);
    await sleep(50);
  }
}

let controlServer = null;

async function shutdown() {
  for (const { socket } of Object.values(clients)) socket.disconnect();
  if (controlServer) {
    controlServer.closeAllConnections();
    controlServer.close();
  }
  for (const s of Object.values(servers)) {
    await new Promise((r) => s.io.close(() => r()));
    await Promise.all([s.pub.quit().catch(() => s.pub.disconnect()), s.sub.quit().catch(() => s.sub.disconnect())]);
  }
}

async function main() {
  lib.onExit(shutdown);
  const controlPort = lib.listenPort();
  await startServer("A");
  await startServer("B");
  await waitServerCount(2, 10000);
  await Promise.all(CLIENTS.map(connectClient));
  // Joins happen in the connection handler, right after "connect" on the
  // client side; give them a moment so every room exists on its server.
  await sleep(50);
  controlServer = http.createServer((req, res) => {
    control(req, res);
  });
  await new Promise((resolve, reject) => {
    controlServer.once("error", reject);
    controlServer.listen(controlPort, lib.listenHost(), resolve);
  });
  lib.log(`socket.io harness: adapter ${ADAPTER}, key ${KEY}, servers A:${servers.A.port} B:${servers.B.port}, control ${controlServer.address().port}, redis ${lib.redactURL(process.env.REDIS_URL)}`);
  lib.ready(controlServer.address().port);
}

main().catch(lib.fatal);
