#!/usr/bin/env node
// Interop: xmpp.js (@xmpp/client from npm, pinned in package.json) against an XMPP server.
//
//   node xmppjs.mjs --host 127.0.0.1 --port 5222 --ws-url ws://127.0.0.1:5280/xmpp-websocket \
//       [--tls-port 5223] --domain localhost --password secret \
//       [--user-a alice --user-b bob --user-c carol] [--timeout 10] [--stream-management] [-v]
//
// Needs `npm ci` in this folder. Node 20 has WebSocket only behind
// --experimental-websocket: the script re-executes itself with that flag.
// Steps (one PASS/FAIL line each, then "xmppjs: N passed, N failed"):
//   ws: A logs in over WebSocket (RFC 7395) forcing SCRAM-SHA-1, B forcing PLAIN;
//       A -> B chat, B -> A reply (full JID); A's roster get returns a result
//   tcp: C logs in over xmpp:// (STARTTLS, certificate not verified) with
//        xmpp.js's preferred mechanism; C -> B (on WebSocket) chat
//   tls: with --tls-port, C logs in over xmpps:// (direct TLS) as well
//   close: every client closes its stream cleanly (the server answers the close)
// XEP-0198 is hidden from xmpp.js unless --stream-management is given (its
// 0.14.0 ack counter is racy, see Peer). A failing step prints the client's last protocol exchanges. Exit status 0 only
// when every step passed. -v prints the whole trace on stderr.
import { spawnSync } from "node:child_process";
import { parseArgs } from "node:util";
import { randomUUID } from "node:crypto";

if (typeof globalThis.WebSocket === "undefined") {
  const res = spawnSync(process.execPath, ["--experimental-websocket", ...process.argv.slice(1)], {
    stdio: "inherit",
  });
  process.exit(res.status ?? 1);
}
// Self-signed certificate of the dev server (STARTTLS and direct TLS steps only).
process.env.NODE_TLS_REJECT_UNAUTHORIZED = "0";
process.removeAllListeners("warning"); // the warning about the line above

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
    "user-a": { type: "string", default: "alice" },
    "user-b": { type: "string", default: "bob" },
    "user-c": { type: "string", default: "carol" },
    timeout: { type: "string", default: env.INTEROP_TIMEOUT ?? "10" },
    "stream-management": { type: "boolean", default: false },
    verbose: { type: "boolean", short: "v", default: false },
  },
});
const T = Number(opt.timeout) * 1000;
const wsURL = opt["ws-url"] || `ws://${opt.host}:5280/xmpp-websocket`;
const token = randomUUID().slice(0, 8);

let passed = 0;
let failed = 0;
function step(label, ok, detail = "") {
  if (ok) passed++;
  else failed++;
  console.log(`${ok ? "PASS" : "FAIL"}  ${label}${detail ? `  -- ${detail}` : ""}`);
  return ok;
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

// A connected test client: xmpp.js entity plus what the test observed.
class Peer {
  constructor(label, service, user, mechanism) {
    this.label = label;
    this.trace = [];
    this.used = null;
    this.offered = [];
    this.errors = [];
    this.xmpp = client({
      service,
      domain: opt.domain,
      resource: `xmppjs-${label}`,
      timeout: T,
      credentials: async (authenticate, mechanisms) => {
        this.offered = mechanisms;
        const mech = mechanism ?? mechanisms[0];
        if (!mechanisms.includes(mech)) {
          throw new Error(`${mech} not offered (client and server have: ${mechanisms.join(", ") || "none"})`);
        }
        this.used = mech;
        await authenticate({ username: user, password: opt.password }, mech);
      },
    });
    this.xmpp.reconnect.stop(); // a test must see a failure, not a retry
    this.xmpp.on("error", (err) => this.errors.push(String(err?.message ?? err)));
    if (!opt["stream-management"]) {
      // xmpp.js 0.14.0 resets its inbound counter when it handles <enabled/> after
      // stanzas that arrived behind it, then acks fewer stanzas than before (Prosody
      // answers with a stream error). Hide XEP-0198 from it unless asked for.
      const onElement = this.xmpp._onElement.bind(this.xmpp);
      this.xmpp._onElement = (el) => {
        if (el.is("features", "http://etherx.jabber.org/streams")) {
          el.children = el.children.filter((ch) => !(ch.name === "sm" && ch.attrs?.xmlns === "urn:xmpp:sm:3"));
        }
        onElement(el);
      };
    }
    // Protocol trace: wrap the raw socket I/O of this instance.
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
    const origSocketWrite = x.sendMany?.bind(x);
    if (origSocketWrite) {
      x.sendMany = (els) => {
        for (const el of els) this.log("->", el.toString());
        return origSocketWrite(els);
      };
    }
  }

  log(dir, s) {
    this.trace.push(`${dir} ${s}`);
    if (this.trace.length > 60) this.trace.shift();
    if (opt.verbose) process.stderr.write(`[${this.label}] ${dir} ${s}\n`);
  }

  dumpTrace() {
    console.log(`---- ${this.label}: last protocol exchanges ----`);
    for (const line of this.trace) console.log(line.length > 600 ? `${line.slice(0, 600)}...` : line);
    if (this.errors.length) console.log(`errors: ${this.errors.join("; ")}`);
    console.log("---- end ----");
  }

  async start() {
    const addr = await withTimeout(this.xmpp.start(), 2 * T, `${this.label} login`);
    this.jid = addr.toString();
    return addr;
  }

  // Resolves with the first stanza matching pred (register before acting).
  expect(pred, what) {
    let handler;
    const p = new Promise((resolve) => {
      handler = (st) => {
        if (pred(st)) resolve(st);
      };
      this.xmpp.on("stanza", handler);
    });
    return withTimeout(p, T, what).finally(() => this.xmpp.removeListener("stanza", handler));
  }

  async stop() {
    await withTimeout(this.xmpp.stop(), T, `${this.label} close`);
    return this.xmpp.status;
  }
}

async function login(label, service, user, mechanism, stepLabel, check = () => [true, ""]) {
  const p = new Peer(label, service, user, mechanism);
  try {
    await p.start();
    await p.xmpp.send(xml("presence"));
    const [ok, extra] = check(p);
    step(stepLabel, ok && (!mechanism || p.used === mechanism),
      `bound ${p.jid}, mechanism ${p.used}, offered ${p.offered.join(",")}${extra ? `, ${extra}` : ""}`);
    if (!ok) p.dumpTrace();
    return p;
  } catch (err) {
    step(stepLabel, false, String(err?.message ?? err));
    p.dumpTrace();
    try {
      await p.xmpp.stop();
    } catch {}
    return null;
  }
}

const bodyIs = (body) => (st) => st.is("message") && st.getChildText("body") === body;

async function chat(from, to, toAddr, label) {
  const body = `${label} ${token}`;
  const got = to.expect(bodyIs(body), label);
  try {
    await from.xmpp.send(xml("message", { to: toAddr, type: "chat" }, xml("body", {}, body)));
    const m = await got;
    const ok = m.attrs.from === from.jid && m.attrs.type === "chat";
    step(label, ok, `from ${m.attrs.from} type ${m.attrs.type}`);
    if (!ok) to.dumpTrace();
  } catch (err) {
    step(label, false, String(err?.message ?? err));
    from.dumpTrace();
    to.dumpTrace();
  }
}

async function main() {
  console.log(`xmppjs: ${wsURL} and xmpp://${opt.host}:${opt.port}, domain ${opt.domain}`);
  const a = opt["user-a"];
  const b = opt["user-b"];
  const c = opt["user-c"];
  const peers = [];
  const A = await login("A", wsURL, a, "SCRAM-SHA-1", `ws: ${a} logs in over WebSocket with SCRAM-SHA-1`);
  const B = await login("B", wsURL, b, "PLAIN", `ws: ${b} logs in over WebSocket with PLAIN`);
  peers.push(A, B);
  if (A && B) {
    await chat(A, B, `${b}@${opt.domain}`, "ws: A -> B chat (bare JID) delivered");
    await chat(B, A, A.jid, "ws: B -> A reply (full JID) delivered");
    try {
      const res = await withTimeout(
        A.xmpp.iqCaller.request(xml("iq", { type: "get" }, xml("query", { xmlns: "jabber:iq:roster" }))),
        T, "roster get");
      step("ws: A's roster get returns a result", res.attrs.type === "result" &&
        res.getChild("query", "jabber:iq:roster") !== undefined, `${res.getChild("query")?.children.length ?? 0} items`);
    } catch (err) {
      step("ws: A's roster get returns a result", false, String(err?.message ?? err));
      A.dumpTrace();
    }
  } else {
    step("ws: chat and roster steps", false, "not run: a WebSocket login failed");
  }

  const secure = (p) => [p.xmpp.isSecure() && p.xmpp.socket?.socket?.encrypted === true,
    `TLS ${p.xmpp.socket?.socket?.getProtocol?.() ?? "none"}`];
  const C = await login("C", `xmpp://${opt.host}:${opt.port}`, c, undefined,
    `tcp: ${c} logs in over xmpp:// with STARTTLS`, secure);
  peers.push(C);
  if (C && B) await chat(C, B, `${b}@${opt.domain}`, "tcp: C (TCP) -> B (WebSocket) chat delivered");
  if (Number(opt["tls-port"])) {
    const D = await login("D", `xmpps://${opt.host}:${opt["tls-port"]}`, c, undefined,
      `tls: ${c} logs in over xmpps:// (direct TLS)`, secure);
    peers.push(D);
  }

  for (const p of peers) {
    if (!p) continue;
    try {
      const status = await p.stop();
      step(`close: ${p.label} (${p.jid}) closes its stream cleanly`, status === "offline", `status ${status}`);
    } catch (err) {
      step(`close: ${p.label} (${p.jid}) closes its stream cleanly`, false, String(err?.message ?? err));
      p.dumpTrace();
    }
  }
  console.log(`xmppjs: ${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

main().catch((err) => {
  console.log(`FAIL  xmppjs crashed  -- ${err?.stack ?? err}`);
  console.log(`xmppjs: ${passed} passed, ${failed + 1} failed`);
  process.exit(1);
});
