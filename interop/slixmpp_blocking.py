#!/usr/bin/python3
"""Interop: slixmpp (Debian python3-slixmpp) against an XMPP server: XEP-0191
blocking command.

    slixmpp_blocking.py --host 127.0.0.1 --port 5222 --domain localhost --password secret \
        [--user-a alice --user-b bob --user-c carol] [--timeout 10] [-v]

Accounts A, B and C must exist with the given password. A logs in twice (A1,
priority 10, and A2, priority 0), B once; A and B are made subscribed to each
other first (and their roster items removed at the end). Steps:
  setup:    the server advertises urn:xmpp:blocking; mutual subscription, B sees
            A1 and A2 available; A1 and A2 retrieve their (empty) blocklist
  block:    A1 blocks B (slixmpp xep_0191): result; A2 gets the block push; B
            gets unavailable presence from A1 and A2; the blocklist is [B]
  effects:  B -> A: B gets an error <service-unavailable/>, A nothing; A1 -> B:
            A1 gets <not-acceptable/> with <blocked xmlns='urn:xmpp:blocking:errors'/>,
            B nothing; B's iq to A1: <service-unavailable/>; A1's presence
            change does not reach B
  unblock:  A1 unblocks B: result; A2 gets the unblock push; B gets A's
            current presence; the blocklist is empty; messages flow both ways
  all:      A1 blocks C and a domain, then "unblock all" (an empty <unblock/>):
            A2 gets the empty unblock push, the blocklist is empty
Exit status 0 only when every step passed. -v writes slixmpp's protocol trace to stderr.
"""
import argparse
import asyncio
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from xmpptest import JID, Report, add_common_args, close_all, login, setup_logging  # re-execs /usr/bin/python3

from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher import MatchXPath  # noqa: E402

NS_CLIENT = "jabber:client"
NS_BLOCKING = "urn:xmpp:blocking"
NS_BLOCKED_ERR = "urn:xmpp:blocking:errors"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
AVAILABLE = ("available", "away", "chat", "dnd", "xa")


def q(ns, local):
    return f"{{{ns}}}{local}"


class Watch:
    """Every message, presence and blocklist push a client receives, in order.

    slixmpp's 'message' event fires only for messages with a <body/>, so this
    registers handlers of its own. slixmpp 1.8.3's xep_0191 plugin turns a
    blocklist push into a 'blocked'/'unblocked' event but never answers the
    iq (RFC 6120 8.2.3 requires a reply): this answers it with a result.
    """

    def __init__(self, client):
        self.client = client
        self.messages = []
        self.presences = []
        self.pushes = []  # ("block"|"unblock", [jid strings])
        self.changed = asyncio.Event()
        client.register_handler(Callback("watch messages", MatchXPath(q(NS_CLIENT, "message")), self._on_message))
        client.add_event_handler("presence", self._on_presence)
        client.add_event_handler("blocked", lambda iq: self._on_push("block", iq))
        client.add_event_handler("unblocked", lambda iq: self._on_push("unblock", iq))

    def _bump(self):
        self.changed.set()
        self.changed = asyncio.Event()

    def _on_message(self, msg):
        self.messages.append(msg)
        self._bump()

    def _on_presence(self, pres):
        self.presences.append(pres)
        self._bump()

    def _on_push(self, kind, iq):
        # From the account itself (bare JID, or no 'from' at all) only.
        frm = iq.xml.get("from")
        if frm and JID(frm) != JID(self.client.boundjid.bare):
            return
        el = iq.xml.find(q(NS_BLOCKING, kind))
        items = sorted(i.get("jid") for i in el.findall(q(NS_BLOCKING, "item"))) if el is not None else []
        self.pushes.append((kind, items))
        iq.reply().send()
        self._bump()

    async def until(self, pred, timeout):
        """First value pred returns that is not None (pred re-run on every stanza), or None after timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            v = pred()
            if v is not None:
                return v
            left = deadline - loop.time()
            if left <= 0:
                return None
            ev = self.changed
            try:
                await asyncio.wait_for(ev.wait(), left)
            except asyncio.TimeoutError:
                pass

    def bodies(self, body, typ=None):
        return [m for m in self.messages if m.xml.findtext(q(NS_CLIENT, "body")) == body
                and (typ is None or m.xml.get("type", "normal") == typ)]

    def errors_for(self, body):
        """Error messages that bounced a message with this body, or whose id is body's."""
        return [m for m in self.messages if m.xml.get("type") == "error"
                and (m.xml.findtext(q(NS_CLIENT, "body")) == body or m["id"] == body)]


def error_of(stanza_xml):
    """(type, condition, has <blocked/>) of a stanza's <error/>."""
    e = stanza_xml.find(q(NS_CLIENT, "error"))
    if e is None:
        return None, None, False
    cond = next((c.tag.split("}", 1)[1] for c in e if c.tag.startswith(f"{{{NS_STANZAS}}}") and not c.tag.endswith("}text")),
                None)
    return e.get("type"), cond, e.find(q(NS_BLOCKED_ERR, "blocked")) is not None


async def ping(client, timeout, to=None):
    """Round trip: everything this client sent before has been processed. Returns the reply (or error)."""
    iq = client.Iq()
    iq["type"] = "get"
    iq["to"] = to or client.boundjid.domain
    iq.enable("ping")
    try:
        return await iq.send(timeout=timeout)
    except Exception as e:  # noqa: BLE001 - an error reply is a round trip too
        return getattr(e, "iq", None)


class Blocking:
    def __init__(self, args):
        self.a = args
        self.r = Report("slixmpp_blocking")
        self.token = uuid.uuid4().hex[:8]
        self.clients = []
        d = args.domain
        self.ja, self.jb, self.jc = (JID(f"{u}@{d}") for u in (args.user_a, args.user_b, args.user_c))

    async def connect(self, user, resource, priority, status=None):
        c, err = await login(self.a, user, resource=resource, roster=True, presence=False,
                             before_connect=lambda cl: cl.register_plugin("xep_0191"))
        if not c:
            self.r.step(f"login {user}/{resource}", False, err)
            return None, None
        self.clients.append(c)
        w = Watch(c)
        c.send_presence(ppriority=priority, pstatus=status)
        await ping(c, self.a.timeout)
        return c, w

    async def blocklist(self, client):
        res = await client["xep_0191"].get_blocked(timeout=self.a.timeout)
        return sorted(str(j) for j in res["blocklist"]["items"])

    async def subscribe_both(self, a1, a2, bob, wa1, wb):
        """A and B subscribed to each other; True when B sees A1 and A2 and A1 sees B."""
        ja, jb = self.ja, self.jb
        a1.send_presence(pto=jb.bare, ptype="subscribe")
        await ping(a1, self.a.timeout)
        bob.send_presence(pto=ja.bare, ptype="subscribed")
        bob.send_presence(pto=ja.bare, ptype="subscribe")
        await ping(bob, self.a.timeout)
        a1.send_presence(pto=jb.bare, ptype="subscribed")
        t = self.a.timeout

        def sees(w, full):
            return lambda: True if any(p["from"] == full and p["type"] in AVAILABLE for p in w.presences) else None
        ok_a1 = await wb.until(sees(wb, a1.boundjid), t)
        ok_a2 = await wb.until(sees(wb, a2.boundjid), t)
        ok_b = await wa1.until(sees(wa1, bob.boundjid), t)
        return bool(ok_a1 and ok_a2 and ok_b), f"B sees A1 {bool(ok_a1)}, A2 {bool(ok_a2)}; A1 sees B {bool(ok_b)}"

    async def cleanup_rosters(self, a1, bob):
        for c, j in ((a1, self.jb), (bob, self.ja)):
            iq = c.Iq()
            iq["type"] = "set"
            iq["roster"]["items"] = {j.bare: {"subscription": "remove"}}
            try:
                await iq.send(timeout=self.a.timeout)
            except Exception:  # noqa: BLE001 - item-not-found when absent is fine here
                pass

    async def steps(self, a1, a2, bob, wa1, wa2, wb):
        r, t, tok = self.r, self.a.timeout, self.token
        ja, jb, jc = self.ja, self.jb, self.jc

        try:
            info = await a1["xep_0030"].get_info(jid=JID(ja.domain), timeout=t)
            feats = set(info["disco_info"]["features"])
            r.step("setup: server advertises urn:xmpp:blocking (disco#info)", NS_BLOCKING in feats)
        except Exception as e:  # noqa: BLE001
            r.step("setup: server advertises urn:xmpp:blocking (disco#info)", False, f"{type(e).__name__}: {e}")

        # Clean start: nothing blocked on either side (a previous run may have failed half-way).
        for c in (a1, bob):
            try:
                await c["xep_0191"].unblock([], timeout=t)
            except Exception:  # noqa: BLE001
                pass
        ok, detail = await self.subscribe_both(a1, a2, bob, wa1, wb)
        r.step("setup: A and B subscribed to each other, B sees A1 and A2 available", ok, detail)
        for name, c in (("A1", a1), ("A2", a2)):
            try:
                items = await self.blocklist(c)
                r.step(f"setup: {name} retrieves the blocklist (empty)", items == [], f"items {items}")
            except Exception as e:  # noqa: BLE001
                r.step(f"setup: {name} retrieves the blocklist (empty)", False, f"{type(e).__name__}: {e}")

        # A1 blocks B.
        n2, n1 = len(wa2.pushes), len(wa1.pushes)
        nb = len(wb.presences)
        try:
            res = await a1["xep_0191"].block(JID(jb.bare), timeout=t)
            r.step("block: A1 blocks B -> result", res["type"] == "result", f"type {res['type']}")
        except Exception as e:  # noqa: BLE001
            r.step("block: A1 blocks B -> result", False, f"{type(e).__name__}: {e}")
        push = await wa2.until(lambda: next((p for p in wa2.pushes[n2:] if p[0] == "block"), None), t)
        r.step("block: A2 (the other resource) gets the block push with B", push == ("block", [jb.bare]),
               f"push {push}; A1 got {wa1.pushes[n1:]}")

        def gone(full):
            return lambda: True if any(p["from"] == full and p["type"] == "unavailable"
                                       for p in wb.presences[nb:]) else None
        u1, u2 = await wb.until(gone(a1.boundjid), t), await wb.until(gone(a2.boundjid), t)
        r.step("block: B gets unavailable presence from A1 and A2", bool(u1 and u2),
               f"A1 {bool(u1)}, A2 {bool(u2)}")
        try:
            items = await self.blocklist(a1)
            r.step("block: blocklist get returns B", items == [jb.bare], f"items {items}")
        except Exception as e:  # noqa: BLE001
            r.step("block: blocklist get returns B", False, f"{type(e).__name__}: {e}")

        # B -> A: bounced with service-unavailable, A gets nothing.
        body = f"blocked-in {tok}"
        bob.send_message(mto=ja.bare, mbody=body, mtype="chat")
        err = await wb.until(lambda: next(iter(wb.errors_for(body)), None), t)
        et, cond, _ = error_of(err.xml) if err is not None else (None, None, False)
        r.step("effects: B -> A gets an error <service-unavailable/>", err is not None and cond == "service-unavailable",
               f"error type {et} condition {cond} from {err['from']}" if err is not None else f"no error within {t:g}s")
        await ping(bob, t)
        await asyncio.sleep(0.3)
        leaked = len(wa1.bodies(body)) + len(wa2.bodies(body))
        r.step("effects: A1 and A2 do not get B's message", leaked == 0, f"{leaked} delivered")

        # A1 -> B: not-acceptable + <blocked/>, B gets nothing.
        body = f"blocked-out {tok}"
        a1.send_message(mto=jb.bare, mbody=body, mtype="chat")
        err = await wa1.until(lambda: next(iter(wa1.errors_for(body)), None), t)
        et, cond, blocked = error_of(err.xml) if err is not None else (None, None, False)
        r.step("effects: A1 -> B gets an error <not-acceptable/> with <blocked xmlns='urn:xmpp:blocking:errors'/>",
               err is not None and cond == "not-acceptable" and blocked,
               f"error type {et} condition {cond} <blocked/> {blocked}" if err is not None else f"no error within {t:g}s")
        await ping(a1, t)
        await asyncio.sleep(0.3)
        r.step("effects: B does not get A1's message", not wb.bodies(body), f"{len(wb.bodies(body))} delivered")

        # B's iq to A1.
        reply = await ping(bob, t, to=a1.boundjid)
        et, cond, _ = error_of(reply.xml) if reply is not None else (None, None, False)
        r.step("effects: B's iq to A1 answered <service-unavailable/>",
               reply is not None and reply["type"] == "error" and cond == "service-unavailable",
               f"type {reply['type']} condition {cond}" if reply is not None else f"no reply within {t:g}s")

        # A1's presence change does not reach B.
        status = f"while-blocked {tok}"
        nb = len(wb.presences)
        a1.send_presence(ppriority=10, pstatus=status, pshow="away")
        await ping(a1, t)
        await ping(bob, t)
        await asyncio.sleep(0.5)
        seen = [p for p in wb.presences[nb:] if p["from"].bare == ja.bare]
        r.step("effects: A1's presence change does not reach B", not seen,
               f"B got {[(str(p['from']), p['type'], p['status']) for p in seen]}")

        # Unblock.
        n2, nb = len(wa2.pushes), len(wb.presences)
        try:
            res = await a1["xep_0191"].unblock(JID(jb.bare), timeout=t)
            r.step("unblock: A1 unblocks B -> result", res["type"] == "result", f"type {res['type']}")
        except Exception as e:  # noqa: BLE001
            r.step("unblock: A1 unblocks B -> result", False, f"{type(e).__name__}: {e}")
        push = await wa2.until(lambda: next((p for p in wa2.pushes[n2:] if p[0] == "unblock"), None), t)
        r.step("unblock: A2 gets the unblock push with B", push == ("unblock", [jb.bare]), f"push {push}")

        def back(full, pred=lambda p: True):
            return lambda: next((p for p in wb.presences[nb:] if p["from"] == full and p["type"] in AVAILABLE
                                 and pred(p)), None)
        p1 = await wb.until(back(a1.boundjid), t)
        p2 = await wb.until(back(a2.boundjid), t)
        r.step("unblock: B gets A's current presence (A1 with the status set while blocked, A2)",
               p1 is not None and p1["status"] == status and p1["show"] == "away" and p2 is not None,
               f"A1 {(p1['show'], p1['status']) if p1 is not None else None}, A2 {p2 is not None}")
        try:
            items = await self.blocklist(a1)
            r.step("unblock: blocklist get is empty", items == [], f"items {items}")
        except Exception as e:  # noqa: BLE001
            r.step("unblock: blocklist get is empty", False, f"{type(e).__name__}: {e}")
        body_in, body_out = f"unblocked-in {tok}", f"unblocked-out {tok}"
        bob.send_message(mto=ja.bare, mbody=body_in, mtype="chat")
        a1.send_message(mto=jb.bare, mbody=body_out, mtype="chat")
        g_in = await wa1.until(lambda: next(iter(wa1.bodies(body_in, "chat")), None), t)
        g_out = await wb.until(lambda: next(iter(wb.bodies(body_out, "chat")), None), t)
        r.step("unblock: B -> A delivered to A1 again", g_in is not None,
               "" if g_in is not None else f"nothing; B errors {len(wb.errors_for(body_in))}")
        r.step("unblock: A1 -> B delivered again", g_out is not None,
               "" if g_out is not None else f"nothing; A1 errors {len(wa1.errors_for(body_out))}")

        # Unblock all.
        domain_item = f"blocked-{tok}.example"
        try:
            await a1["xep_0191"].block([JID(jc.bare), JID(domain_item)], timeout=t)
            items = await self.blocklist(a1)
            r.step("all: A1 blocks C and a domain: blocklist holds both", items == sorted([jc.bare, domain_item]),
                   f"items {items}")
            n2 = len(wa2.pushes)
            res = await a1["xep_0191"].unblock([], timeout=t)  # an empty <unblock/>: unblock all
            push = await wa2.until(lambda: next((p for p in wa2.pushes[n2:] if p[0] == "unblock"), None), t)
            items = await self.blocklist(a1)
            r.step("all: an empty <unblock/> -> result, A2 gets an empty unblock push, blocklist empty",
                   res["type"] == "result" and push == ("unblock", []) and items == [],
                   f"result {res['type']}, push {push}, items {items}")
        except Exception as e:  # noqa: BLE001
            r.step("all: block two items then unblock all", False, f"{type(e).__name__}: {e}")

    async def run(self):
        a = self.a
        a1 = bob = None
        try:
            a1, wa1 = await self.connect(a.user_a, f"A1-{self.token[:4]}", 10)
            a2, wa2 = await self.connect(a.user_a, f"A2-{self.token[:4]}", 0)
            bob, wb = await self.connect(a.user_b, f"B-{self.token[:4]}", 0)
            if a1 and a2 and bob:
                await self.steps(a1, a2, bob, wa1, wa2, wb)
            else:
                self.r.step("blocking steps", False, "not run: a login failed")
        finally:
            if a1 and bob:
                try:
                    await a1["xep_0191"].unblock([], timeout=a.timeout)
                except Exception:  # noqa: BLE001
                    pass
                await self.cleanup_rosters(a1, bob)
            await close_all(self.clients)
        return self.r.finish()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--user-a", default="alice", help="the blocking user, logs in twice (A1, A2)")
    p.add_argument("--user-b", default="bob", help="the blocked contact")
    p.add_argument("--user-c", default="carol", help="only put on the blocklist (unblock-all step)")
    args = p.parse_args()
    setup_logging(args)
    print(f"slixmpp_blocking: {args.host}:{args.port} domain {args.domain}", flush=True)
    sys.exit(asyncio.run(Blocking(args).run()))


if __name__ == "__main__":
    main()
