#!/usr/bin/env node
// Interop: XEP-0198 stream resumption of xmpp.js (@xmpp/client, pinned in
// package.json, with its own stream-management and reconnect plugins) over
// WebSocket against an XMPP server.
//
//   node xmppjs_sm.mjs --ws-url ws://127.0.0.1:5280/xmpp-websocket --domain localhost \
//       --password secret [--user-a alice --user-b bob] [--timeout 10] [-v]
//
// Steps (one PASS/FAIL line each, then "xmppjs_sm: N passed, N failed"):
//   A logs in over WebSocket; xmpp.js enables SM with resume='true' (the
//   server's <enabled/> carries an id); B (WebSocket, SM hidden) sends A a
//   message, delivered; A's WebSocket is then killed under it (no <close/>,
//   no </stream>), B sends a second message while A is away; xmpp.js's
//   reconnect plugin reconnects, authenticates and sends <resume/>; the
//   server answers <resumed/>; the message sent while A was away arrives,
//   once; the first one is not delivered again; A kept its full JID and
//   its presence (a message to the bare JID reaches it); no stream error;
//   both close cleanly.
// --host/--port/--tls-port are accepted (run.sh passes them) and unused.
// Node 20 has WebSocket only behind --experimental-websocket: the script
// re-executes itself with that flag. -v prints the protocol trace on stderr.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { randomUUID } from "node:crypto";

if (typeof globalThis.WebSocket === "undefined") {
  const res = spawnSync(process.execPath, ["--experimental-websocket", ...process.argv.slice(1)], {
    stdio: "inherit",
  });
  process.exit(res.status ?? 1);
}
process.removeAllListeners("warning");

const { client, xml } = await import("@xmpp/client");

const env = process.env;
const { values: opt } = parseArgs({
  options: {
    host: { type: "string", default: env.INTEROP_HOST ?? "127.0.0.1" },
    port: { type: "string", default: env.INTEROP_PORT ?? "5222" },
    "tls-port": { type: "string", default: env.INTEROP_TLS_PORT ?? "0" },
    "ws-url": { type: "string", default: env.INTEROP_WS_URL ?? "" },
    domain: { type: "string", default: env.INTEROP_DOMAIN ?? "localhost" },
    password: { type: "string", default: env.INTEROP_PASSWORD ?? "secret" },
    "user-a": { type: "string", default: "dave" },
    "user-b": { type: "string", default: "eve" },
    timeout: { type: "string", default: env.INTEROP_TIMEOUT ?? "10" },
    verbose: { type: "boolean", short: "v", default: false },
  },
});
const T = Number(opt.timeout) * 1000;
const wsURL = opt["ws-url"] || `ws://${opt.host}:5280/xmpp-websocket`;
const token = randomUUID().slice(0, 8);
const NS_SM = "urn:xmpp:sm:3";

let passed = 0;
let failed = 0;
function step(label, ok, detail = "") {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "PASS" : "FAIL"}  ${label}${detail ? `  -- ${detail}` : ""}`);
  return ok;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function until(cond) {
  while (!cond()) await sleep(20);
}

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: nothing within ${ms / 1000}s`)), ms);
    }),
  ]).finally(() => clearTimeout(timer));
}

// A client with a protocol trace and a record of every message received.
class Peer {
  constructor(label, user, { sm }) {
    this.label = label;
    this.trace = [];
    this.errors = [];
    this.messages = [];
    this.xmpp = client({
      service: wsURL,
      domain: opt.domain,
      resource: `xmppjs-sm-${label}`,
      timeout: T,
      credentials: (authenticate, mechanisms) =>
        authenticate({ username: user, password: opt.password }, mechanisms.includes("SCRAM-SHA-1") ? "SCRAM-SHA-1" : mechanisms[0]),
    });
    this.xmpp.on("error", (err) => this.errors.push(String(err?.message ?? err)));
    this.xmpp.on("stanza", (st) => {
      if (st.is("message")) this.messages.push(st);
    });
    if (!sm) {
      // B only sends; keep it simple and out of the picture.
      this.xmpp.reconnect.stop();
      const onElement = this.xmpp._onElement.bind(this.xmpp);
      this.xmpp._onElement = (el) => {
        if (el.is("features", "http://etherx.jabber.org/streams")) {
          el.children = el.children.filter((ch) => !(ch.name === "sm" && ch.attrs?.xmlns === NS_SM));
        }
        onElement(el);
      };
    }
    const x = this.xmpp;
    const onData = x._onData.bind(x);
    x._onData = (data) => {
      this.log("<-", data.toString("utf8"));
      onData(data);
    };
    const write = x.write.bind(x);
    x.write = (s) => {
      this.log("->", s);
      return write(s);
    };
  }

  log(dir, s) {
    this.trace.push(`${dir} ${s}`);
    if (this.trace.length > 80) this.trace.shift();
    if (opt.verbose) process.stderr.write(`[${this.label}] ${dir} ${s}\n`);
  }

  dumpTrace() {
    console.log(`---- ${this.label}: last protocol exchanges ----`);
    for (const line of this.trace) console.log(line.length > 600 ? `${line.slice(0, 600)}...` : line);
    if (this.errors.length) console.log(`errors: ${this.errors.join("; ")}`);
    console.log("---- end ----");
  }

  saw(re) {
    return this.trace.some((l) => re.test(l));
  }

  // Resolves with the first message (already received or to come) with body.
  message(body, what) {
    const found = this.messages.find((m) => m.getChildText("body") === body);
    if (found) return Promise.resolve(found);
    let handler;
    const p = new Promise((resolve) => {
      handler = (st) => {
        if (st.is("message") && st.getChildText("body") === body) resolve(st);
      };
      this.xmpp.on("stanza", handler);
    });
    return withTimeout(p, T, what).finally(() => this.xmpp.removeListener("stanza", handler));
  }

  count(body) {
    return this.messages.filter((m) => m.getChildText("body") === body).length;
  }
}

async function main() {
  console.log(`xmppjs_sm: ${wsURL}, domain ${opt.domain}`);
  const A = new Peer("A", opt["user-a"], { sm: true });
  const B = new Peer("B", opt["user-b"], { sm: false });
  const sm = A.xmpp.streamManagement;
  try {
    await withTimeout(A.xmpp.start(), 2 * T, "A login");
    // xmpp.js 0.14 goes online before it has handled <enabled/>, and resets
    // its inbound counter when it does: stanzas arriving in between are
    // counted, then forgotten (see interop/README.md). Wait for SM to be on
    // before causing any traffic to A.
    await withTimeout(until(() => sm.enabled), T, "A's <enabled/>");
    await A.xmpp.send(xml("presence"));
    await withTimeout(B.xmpp.start(), 2 * T, "B login");
    await B.xmpp.send(xml("presence"));
  } catch (err) {
    step("sm: A and B log in over WebSocket", false, String(err?.message ?? err));
    A.dumpTrace();
    B.dumpTrace();
    return finish([A, B]);
  }
  const fullA = A.xmpp.jid.toString();
  const enabledOK = sm.enabled && sm.id !== "" && A.saw(/<enabled [^>]*resume=.true/);
  step("sm: A logs in over WebSocket, xmpp.js enables stream management with resumption", enabledOK,
    `bound ${fullA}, SM-ID ${sm.id ? `${sm.id.slice(0, 8)}...` : "none"}, max ${sm.max}`);
  if (!enabledOK) {
    A.dumpTrace();
    return finish([A, B]);
  }

  const before = `before the cut ${token}`;
  const during = `while away ${token}`;
  const after = `after resume ${token}`;
  try {
    const got = A.message(before, "message before the cut");
    await B.xmpp.send(xml("message", { to: fullA, type: "chat" }, xml("body", {}, before)));
    await got;
    step("sm: B -> A message delivered before the cut", true);
  } catch (err) {
    step("sm: B -> A message delivered before the cut", false, String(err?.message ?? err));
    A.dumpTrace();
  }
  // Wait until xmpp.js has acknowledged it (the server asks with <r/>).
  const inboundBefore = sm.inbound;
  try {
    await withTimeout(until(() => A.saw(new RegExp(`-> <a [^>]*h="${inboundBefore}"`))), 3 * T, "A's ack");
  } catch (err) {
    step("sm: A acknowledges what it received (server <r/>, client <a/>)", false, String(err?.message ?? err));
    A.dumpTrace();
  }

  // Kill A's WebSocket: no <close/>, no stream end; the server sees a lost
  // connection. xmpp.js's reconnect plugin reconnects after its delay.
  const resumed = new Promise((resolve) => sm.once("resumed", resolve));
  A.xmpp.on("status", (s) => A.log("!!", `status ${s}`));
  A.log("!!", "killing the WebSocket");
  A.xmpp.socket.socket.close();
  await sleep(100);
  await B.xmpp.send(xml("message", { to: fullA, type: "chat" }, xml("body", {}, during)));

  try {
    await withTimeout(resumed, 3 * T, "resume");
    step("sm: A reconnects by itself and resumes (<resume/> answered with <resumed/>)",
      A.saw(/-> .*<resume [^>]*previd=/) && A.saw(/<- .*<resumed /), `h sent ${inboundBefore}`);
  } catch (err) {
    step("sm: A reconnects by itself and resumes (<resume/> answered with <resumed/>)", false, String(err?.message ?? err));
    A.dumpTrace();
    return finish([A, B]);
  }
  try {
    await A.message(during, "message sent while away");
    await sleep(1000); // room for a duplicate to show up
    step("sm: the message sent while A was away arrives after resume, once", A.count(during) === 1,
      `received ${A.count(during)} time(s)`);
  } catch (err) {
    step("sm: the message sent while A was away arrives after resume, once", false, String(err?.message ?? err));
    A.dumpTrace();
  }
  step("sm: the acknowledged message is not delivered again", A.count(before) === 1, `received ${A.count(before)} time(s)`);
  step("sm: A keeps its full JID", A.xmpp.jid.toString() === fullA, `${A.xmpp.jid}`);
  try {
    const got = A.message(after, "message to the bare JID after resume");
    await B.xmpp.send(xml("message", { to: `${opt["user-a"]}@${opt.domain}`, type: "chat" }, xml("body", {}, after)));
    const m = await got;
    step("sm: B -> A (bare JID) after resume delivered: A's presence survived", m.attrs.to !== undefined, `to ${m.attrs.to}`);
  } catch (err) {
    step("sm: B -> A (bare JID) after resume delivered: A's presence survived", false, String(err?.message ?? err));
    A.dumpTrace();
  }
  // Acks keep working on the resumed stream: xmpp.js requests one.
  await sleep(600);
  const streamErr = A.saw(/<- .*stream:error/) || A.saw(/<- .*<error xmlns='http:\/\/etherx/);
  step("sm: no stream error on A's streams", !streamErr && A.errors.length === 0,
    A.errors.length ? A.errors.join("; ") : `server h ${sm.outbound}, client h ${sm.inbound}`);
  if (streamErr) A.dumpTrace();
  return finish([A, B]);
}

async function finish(peers) {
  for (const p of peers) {
    p.xmpp.reconnect.stop();
    if (p.xmpp.status === "offline") continue;
    try {
      await withTimeout(p.xmpp.stop(), T, `${p.label} close`);
      step(`close: ${p.label} closes its stream cleanly`, p.xmpp.status === "offline", `status ${p.xmpp.status}`);
    } catch (err) {
      step(`close: ${p.label} closes its stream cleanly`, false, String(err?.message ?? err));
    }
  }
  console.log(`xmppjs_sm: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

main().catch((err) => {
  console.log(`FAIL  xmppjs_sm crashed  -- ${err?.stack ?? err}`);
  console.log(`xmppjs_sm: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
