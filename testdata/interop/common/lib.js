"use strict";
// Helpers shared by the interop apps. This file must not require any npm
// package: each app passes its own modules in, so that every app keeps
// using the exact versions pinned in its own package-lock.json.

const fs = require("node:fs");

// log writes one line to stderr. stdout is reserved for the READY line.
function log(...parts) {
  process.stderr.write(`[${new Date().toISOString()}] ${parts.join(" ")}\n`);
}

// redactURL hides the password of a redis:// URL, for log lines.
function redactURL(raw) {
  try {
    const u = new URL(raw);
    if (u.password) u.password = "REDACTED";
    return u.toString();
  } catch {
    return "<unparsable REDIS_URL>";
  }
}

// redisFromEnv builds an ioredis client from REDIS_URL (redis:// or
// rediss://, password in the URL) and REDIS_CA (a PEM file, used for
// rediss://). name tags the connection in CLIENT LIST; extra adds ioredis
// options (e.g. a Connector).
function redisFromEnv(Redis, name, extra) {
  const url = process.env.REDIS_URL;
  if (!url) {
    throw new Error("REDIS_URL is not set (want redis://[user:password@]host:port or rediss://...)");
  }
  const opts = {
    connectionName: name,
    // Fail commands quickly instead of queueing them forever when the
    // server is gone: fault tests stop Valkey under a running app.
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => Math.min(times * 100, 1000),
  };
  if (/^rediss:\/\//i.test(url)) {
    opts.tls = {};
    if (process.env.REDIS_CA) {
      opts.tls.ca = fs.readFileSync(process.env.REDIS_CA);
    }
  }
  Object.assign(opts, extra || {});
  const client = new Redis(url, opts);
  let lastError = "";
  client.on("error", (err) => {
    // ioredis repeats the same error on every retry; log each new one once.
    const msg = String(err && err.message ? err.message : err);
    if (msg !== lastError) {
      lastError = msg;
      log(`redis(${name}) ${redactURL(url)}: ${msg}`);
    }
  });
  client.on("ready", () => {
    lastError = "";
  });
  return client;
}

// waitReady resolves when the ioredis client is ready, or rejects after ms.
function waitReady(client, ms) {
  if (client.status === "ready") return Promise.resolve();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      client.off("ready", onReady);
      reject(new Error(`redis not ready after ${ms} ms (status ${client.status})`));
    }, ms);
    function onReady() {
      clearTimeout(timer);
      resolve();
    }
    client.once("ready", onReady);
  });
}

// onExit runs shutdown once when stdin closes (the Go parent died or closed
// the pipe), on SIGTERM or on SIGINT, then exits. A shutdown that hangs is
// cut short after 3 s.
function onExit(shutdown) {
  let stopping = false;
  const stop = (why) => {
    if (stopping) return;
    stopping = true;
    log(`stopping: ${why}`);
    const force = setTimeout(() => process.exit(0), 3000);
    force.unref();
    Promise.resolve()
      .then(shutdown)
      .catch((err) => log(`shutdown: ${err && err.stack ? err.stack : err}`))
      .finally(() => process.exit(0));
  };
  if (process.env.EXIT_ON_STDIN_CLOSE !== "0") {
    process.stdin.on("end", () => stop("stdin closed"));
    process.stdin.on("close", () => stop("stdin closed"));
    process.stdin.on("error", () => stop("stdin error"));
    process.stdin.resume();
  }
  process.on("SIGTERM", () => stop("SIGTERM"));
  process.on("SIGINT", () => stop("SIGINT"));
}

// ready prints the one line the Go launcher waits for.
function ready(port) {
  process.stdout.write(`READY ${port}\n`);
}

// fatal logs err and exits 1 (startup failures).
function fatal(err) {
  log(`fatal: ${err && err.stack ? err.stack : err}`);
  process.exit(1);
}

// toWire turns a value into JSON-safe data: binary (Buffer, ArrayBuffer,
// typed arrays) becomes {"binary": "<base64>", "size": n}, the same shape
// oxyctl's pubsub tail prints; functions are dropped; Sets become arrays.
function toWire(v) {
  if (v === undefined || v === null) return null;
  if (Buffer.isBuffer(v)) return { binary: v.toString("base64"), size: v.length };
  if (v instanceof ArrayBuffer) return toWire(Buffer.from(v));
  if (ArrayBuffer.isView(v)) return toWire(Buffer.from(v.buffer, v.byteOffset, v.byteLength));
  if (v instanceof Set) return toWire([...v]);
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.filter((x) => typeof x !== "function").map(toWire);
  if (v instanceof Error) return { error: v.message };
  if (typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (typeof x === "function" || x === undefined) continue;
      out[k] = toWire(x);
    }
    return out;
  }
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  return v;
}

// readBody reads a JSON request body (empty body = {}).
function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on("data", (c) => {
      size += c.length;
      if (size > 1 << 20) {
        reject(new Error("request body over 1 MiB"));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString("utf8").trim();
      if (!text) return resolve({});
      try {
        resolve(JSON.parse(text));
      } catch (err) {
        reject(new Error(`request body is not JSON: ${err.message}`));
      }
    });
    req.on("error", reject);
  });
}

// sendJSON writes one JSON response.
function sendJSON(res, status, body) {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}

// listenHost is the address the apps listen on (HOST, default 127.0.0.1).
function listenHost() {
  return process.env.HOST || "127.0.0.1";
}

// listenPort parses PORT (default 0, a random free port).
function listenPort(name = "PORT") {
  const raw = process.env[name] || "0";
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error(`${name}=${raw} is not a port number`);
  }
  return port;
}

module.exports = {
  log,
  redactURL,
  redisFromEnv,
  waitReady,
  onExit,
  ready,
  fatal,
  toWire,
  readBody,
  sendJSON,
  listenHost,
  listenPort,
};
