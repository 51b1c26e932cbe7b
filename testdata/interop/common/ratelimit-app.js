"use strict";
// The rate-limited Express app, shared by ratelimit-v8/ and ratelimit-v7/.
// Each of those passes in its own express, express-rate-limit,
// rate-limit-redis and ioredis, so the versions are the ones in its lock file.
//
// Environment:
//   REDIS_URL  redis://[user:pw@]host:port or rediss://... (required)
//   REDIS_CA   PEM CA file for rediss:// (optional)
//   PORT       listen port, 0 = random (default 0)
//   HOST       listen address (default 127.0.0.1; "::" for dual stack)
//   LIMITERS   JSON array of limiters (default: one, see DEFAULT_LIMITERS)
//
// A limiter: {name, path, prefix, windowMs, limit, standardHeaders,
// legacyHeaders, ipv6Subnet (erl 8 only), skipFailedRequests,
// skipSuccessfulRequests, resetExpiryOnChange (rate-limit-redis 4 only)}.
// Each limiter guards every method and sub-path of its `path` and answers
// 200 JSON (or ?status=NNN). Other routes:
//   GET /healthz              200 {"ok":true}, not limited
//   GET /_limiters            the effective limiter list and versions
//   GET /_store?limiter=&key= what the store returns for a client key
//   POST /_reset?limiter=&key= store.resetKey(key)
// Prints "READY <port>" on stdout when listening and connected to Valkey.

const fs = require("node:fs");
const path = require("node:path");
const lib = require("./lib.js");

const DEFAULT_LIMITERS = [
  { name: "api", path: "/api", prefix: "rl:", windowMs: 900000, limit: 150 },
];

function parseLimiters() {
  const raw = process.env.LIMITERS;
  if (!raw || !raw.trim()) return DEFAULT_LIMITERS;
  let list;
  try {
    list = JSON.parse(raw);
  } catch (err) {
    throw new Error(`LIMITERS is not JSON: ${err.message}`);
  }
  if (!Array.isArray(list) || list.length === 0) {
    throw new Error("LIMITERS must be a non-empty JSON array");
  }
  const seen = new Set();
  return list.map((l, i) => {
    const out = {
      name: l.name || `limiter${i}`,
      path: l.path || (i === 0 ? "/api" : `/l${i}`),
      prefix: l.prefix === undefined ? "rl:" : String(l.prefix),
      windowMs: l.windowMs === undefined ? 900000 : Number(l.windowMs),
      limit: l.limit === undefined ? 150 : Number(l.limit),
    };
    for (const k of ["standardHeaders", "legacyHeaders", "ipv6Subnet", "skipFailedRequests", "skipSuccessfulRequests", "resetExpiryOnChange"]) {
      if (l[k] !== undefined) out[k] = l[k];
    }
    if (!out.path.startsWith("/")) throw new Error(`limiter ${out.name}: path must start with /`);
    if (seen.has(out.path)) throw new Error(`limiter ${out.name}: path ${out.path} used twice`);
    seen.add(out.path);
    if (!(out.windowMs > 0) || !(out.limit >= 0)) {
      throw new Error(`limiter ${out.name}: windowMs must be > 0 and limit >= 0`);
    }
    return out;
  });
}

function versionOf(name) {
  try {
    const file = path.join(require.main.path, "node_modules", name, "package.json");
    return JSON.parse(fs.readFileSync(file, "utf8")).version;
  } catch {
    return "unknown";
  }
}

async function start(mods) {
  const { express, rateLimit, RedisStore, Redis, erlMajor } = mods;
  const limiters = parseLimiters();
  const redis = lib.redisFromEnv(Redis, "oxyctl-interop-ratelimit");
  let server = null;
  lib.onExit(async () => {
    if (server) {
      server.closeAllConnections();
      await new Promise((r) => server.close(() => r()));
    }
    await redis.quit().catch(() => redis.disconnect());
  });
  await lib.waitReady(redis, 15000);

  const app = express();
  // As in the Oxy API: the app runs behind a proxy and trusts X-Forwarded-For.
  app.set("trust proxy", true);

  const stores = new Map();
  for (const l of limiters) {
    const storeOpts = {
      prefix: l.prefix,
      sendCommand: (...args) => redis.call(...args),
    };
    if (l.resetExpiryOnChange !== undefined) storeOpts.resetExpiryOnChange = l.resetExpiryOnChange;
    const store = new RedisStore(storeOpts);
    const opts = {
      windowMs: l.windowMs,
      limit: l.limit,
      store,
      // trust proxy = true is what the API does; the library warns about it
      // once on stderr. The warning is known and adds nothing to test logs.
      validate: { trustProxy: false },
    };
    for (const k of ["standardHeaders", "legacyHeaders", "skipFailedRequests", "skipSuccessfulRequests"]) {
      if (l[k] !== undefined) opts[k] = l[k];
    }
    if (l.ipv6Subnet !== undefined) {
      if (erlMajor < 8) throw new Error(`limiter ${l.name}: ipv6Subnet needs express-rate-limit 8`);
      opts.ipv6Subnet = l.ipv6Subnet;
    }
    const limiter = rateLimit(opts);
    stores.set(l.name, { limiter, store, config: l });
    app.use(l.path, limiter, (req, res) => {
      const info = req.rateLimit || {};
      const status = Number(req.query.status) || 200;
      res.status(status).json({
        ok: status < 400,
        limiter: l.name,
        path: req.originalUrl,
        ip: req.ip,
        rate_limit: {
          limit: info.limit,
          used: info.used,
          remaining: info.remaining,
          reset_time: info.resetTime instanceof Date ? info.resetTime.toISOString() : null,
          key: info.key === undefined ? null : info.key,
        },
      });
    });
  }

  app.get("/healthz", (req, res) => res.json({ ok: true }));
  app.get("/_limiters", (req, res) =>
    res.json({
      versions: {
        express: versionOf("express"),
        "express-rate-limit": versionOf("express-rate-limit"),
        "rate-limit-redis": versionOf("rate-limit-redis"),
        ioredis: versionOf("ioredis"),
        node: process.version,
      },
      limiters,
    }),
  );
  const storeFor = (req, res) => {
    const s = stores.get(String(req.query.limiter || limiters[0].name));
    if (!s) {
      res.status(404).json({ ok: false, error: `no limiter ${req.query.limiter}` });
      return null;
    }
    if (typeof req.query.key !== "string") {
      res.status(400).json({ ok: false, error: "key query parameter required" });
      return null;
    }
    return s;
  };
  app.get("/_store", async (req, res) => {
    const s = storeFor(req, res);
    if (!s) return;
    try {
      const info = await s.store.get(req.query.key);
      res.json({
        ok: true,
        key: s.config.prefix + req.query.key,
        total_hits: info && Number.isFinite(info.totalHits) ? info.totalHits : null,
        reset_time: info && info.resetTime instanceof Date ? info.resetTime.toISOString() : null,
      });
    } catch (err) {
      res.status(500).json({ ok: false, error: err.message });
    }
  });
  app.post("/_reset", async (req, res) => {
    const s = storeFor(req, res);
    if (!s) return;
    try {
      await s.store.resetKey(req.query.key);
      res.json({ ok: true, key: s.config.prefix + req.query.key });
    } catch (err) {
      res.status(500).json({ ok: false, error: err.message });
    }
  });

  server = await new Promise((resolve, reject) => {
    const s = app.listen(lib.listenPort(), lib.listenHost(), (err) => (err ? reject(err) : resolve(s)));
    s.on("error", reject);
  });
  lib.log(`ratelimit app (erl ${versionOf("express-rate-limit")}) on ${lib.listenHost()}:${server.address().port}, redis ${lib.redactURL(process.env.REDIS_URL)}, limiters ${limiters.map((l) => `${l.name}=${l.path}`).join(",")}`);
  lib.ready(server.address().port);
}

function main(mods) {
  start(mods).catch(lib.fatal);
}

module.exports = { main };
