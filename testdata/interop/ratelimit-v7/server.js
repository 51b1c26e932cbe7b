"use strict";
// Express + express-rate-limit 7 + rate-limit-redis, as pinned in package-lock.json.
// Environment and routes: see ../common/ratelimit-app.js.
const express = require("express");
const { rateLimit } = require("express-rate-limit");
const { RedisStore } = require("rate-limit-redis");
const { Redis } = require("ioredis");

require("../common/ratelimit-app.js").main({ express, rateLimit, RedisStore, Redis, erlMajor: 7 });
