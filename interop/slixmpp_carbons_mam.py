#!/usr/bin/python3
"""Interop: slixmpp (Debian python3-slixmpp) against an XMPP server: XEP-0280
message carbons and XEP-0313 message archive management (with XEP-0059 RSM
and XEP-0359 stanza ids).

    slixmpp_carbons_mam.py --host 127.0.0.1 --port 5222 --domain localhost --password secret \
        [--user-a alice --user-b bob --user-c carol] [--messages 120] [--page 50] [--burst 25] \
        [--timeout 10] [-v]

Accounts A, B, C must exist with the given password. A logs in twice: A1
(priority 10) and A2 (priority 0). Steps:
  carbons:  the server advertises urn:xmpp:carbons:2; A1 and A2 enable carbons
            (slixmpp xep_0280); B -> A's bare JID reaches A1 only, A2 gets a
            <received/> copy from A's bare JID with B's exact message; A1 -> B
            reaches B, A2 gets a <sent/> copy with the exact body, A1 no copy;
            a message with <private xmlns='urn:xmpp:carbons:2'/> and
            <no-copy xmlns='urn:xmpp:hints'/> is not copied (either direction);
            after A2 disables carbons no copies reach it (either direction)
  mam:      A2 enables carbons again; N messages alternate A1 -> B and B -> A,
            a few A1 -> C in between; A's archive id of each comes from the
            <stanza-id by='A'/> of A1's delivered copy (incoming) or of A2's
            <sent/> carbon (outgoing), B's and C's copies never carry A's id;
            B and C send a burst to A at the same time; A's whole
            archive fetched with slixmpp's RSM iterator in pages of --page:
            page sizes, RSM count, complete='true' on the last page only, each
            result from A's bare JID, every archive id once, stamps in order,
            every message of this run once, in order, with the id it was
            delivered with; 'with' = B (whole archive and from this run's
            start), 'with' = C, a start/end window taken from the result stamps
            (inclusive), a window inside the burst, a start in the future;
            reverse iteration: an empty <before/> gives the last page, then the
            page before it
Exit status 0 only when every step passed. -v writes slixmpp's protocol trace to stderr.
"""
import argparse
import asyncio
import datetime
import sys
import time
import uuid
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from xmpptest import JID, Report, add_common_args, close_all, login, setup_logging, wait  # re-execs /usr/bin/python3

from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher import MatchXPath  # noqa: E402

NS_CLIENT = "jabber:client"
NS_CARBONS = "urn:xmpp:carbons:2"
NS_FORWARD = "urn:xmpp:forward:0"
NS_SID = "urn:xmpp:sid:0"
NS_HINTS = "urn:xmpp:hints"
NS_MAM = "urn:xmpp:mam:2"
NS_DELAY = "urn:xmpp:delay"
NS_RSM = "http://jabber.org/protocol/rsm"

PLUGINS = ("xep_0059", "xep_0280", "xep_0297", "xep_0313", "xep_0359")


def with_plugins(client):
    for p in PLUGINS:
        client.register_plugin(p)


def q(ns, local):
    return f"{{{ns}}}{local}"


def stanza_ids(msg_xml):
    """{by: id} of the direct <stanza-id/> children of a message element."""
    return {e.get("by"): e.get("id") for e in msg_xml.findall(q(NS_SID, "stanza-id"))}


def parse_stamp(s):
    if not s:
        return None
    try:
        return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))
    except ValueError:
        return None


class Inbox:
    """Every <message/> a client receives, sorted by kind and body.

    kinds: "direct" (the message itself), "sent"/"received" (a carbon from the
    account's own bare JID: the forwarded message is stored), "forged" (a
    carbon from anyone else). slixmpp's own 'message' event fires only for
    messages with a <body/>, so this registers a handler of its own.
    """

    def __init__(self, client, name):
        self.client = client
        self.name = name
        self.items = {"direct": {}, "sent": {}, "received": {}, "forged": {}, "error": {}}
        self.waiters = []
        client.register_handler(Callback(f"inbox {name}", MatchXPath(q(NS_CLIENT, "message")), self._on))

    def _on(self, msg):
        x = msg.xml
        kind, inner = "direct", x
        for wrap in ("sent", "received"):
            w = x.find(q(NS_CARBONS, wrap))
            if w is not None:
                inner = w.find(f"{q(NS_FORWARD, 'forwarded')}/{q(NS_CLIENT, 'message')}")
                own = msg["from"] == JID(self.client.boundjid.bare)
                kind = wrap if own else "forged"
                break
        if inner is None:
            return
        if kind == "direct" and x.get("type") == "error":
            kind = "error"
        body = inner.findtext(q(NS_CLIENT, "body"))
        if body is None:
            return
        self.items[kind].setdefault(body, []).append((msg, inner))
        for w in list(self.waiters):
            k, b, fut = w
            if k == kind and b == body and not fut.done():
                fut.set_result((msg, inner))

    def get(self, kind, body):
        """(stanza, message element) list received so far."""
        return self.items[kind].get(body, [])

    async def wait(self, kind, body, timeout):
        """First (stanza, message element) of that kind and body, or None after timeout."""
        have = self.get(kind, body)
        if have:
            return have[0]
        fut = asyncio.get_running_loop().create_future()
        w = (kind, body, fut)
        self.waiters.append(w)
        try:
            return await wait(fut, timeout)
        finally:
            self.waiters.remove(w)


def send_chat(client, to, body, extra=()):
    m = client.make_message(mto=to, mbody=body, mtype="chat")
    for el in extra:
        m.xml.append(el)
    m.send()


async def ping(client, timeout):
    """Round trip to the server: everything this client sent before has been processed."""
    iq = client.Iq()
    iq["type"] = "get"
    iq["to"] = client.boundjid.domain
    iq.enable("ping")
    try:
        await iq.send(timeout=timeout)
    except Exception:  # noqa: BLE001 - an error reply is a round trip too
        pass


def describe(pair):
    if not pair:
        return "nothing"
    msg, inner = pair
    return f"from {msg['from']} to {msg['to']}: {ET.tostring(inner, encoding='unicode')[:300]}"


class CarbonsMAM:
    def __init__(self, args):
        self.a = args
        self.r = Report("slixmpp_carbons_mam")
        self.token = uuid.uuid4().hex[:8]
        self.clients = []
        d = args.domain
        self.ja, self.jb, self.jc = (JID(f"{u}@{d}") for u in (args.user_a, args.user_b, args.user_c))

    async def connect(self, user, resource, priority):
        c, err = await login(self.a, user, resource=resource, roster=False, presence=False,
                             before_connect=with_plugins)
        if not c:
            self.r.step(f"login {user}/{resource}", False, err)
            return None, None
        self.clients.append(c)
        box = Inbox(c, f"{user}/{resource}")
        c.send_presence(ppriority=priority)
        await ping(c, self.a.timeout)
        return c, box

    # ---------------------------------------------------------------- carbons

    async def carbons(self, a1, a2, bob, box1, box2, boxb):
        r, t, tok = self.r, self.a.timeout, self.token
        ja, jb = self.ja, self.jb

        try:
            info = await a1["xep_0030"].get_info(jid=JID(ja.domain), timeout=t)
            feats = set(info["disco_info"]["features"])
            r.step("carbons: server advertises urn:xmpp:carbons:2 (disco#info)", NS_CARBONS in feats,
                   f"{len(feats)} features, carbons missing" if NS_CARBONS not in feats else "")
        except Exception as e:  # noqa: BLE001
            r.step("carbons: server advertises urn:xmpp:carbons:2 (disco#info)", False, f"{type(e).__name__}: {e}")

        for name, c in (("A1", a1), ("A2", a2)):
            try:
                res = await c["xep_0280"].enable(timeout=t)
                r.step(f"carbons: {name} enables carbons (xep_0280.enable -> result)", res["type"] == "result",
                       f"type {res['type']}")
            except Exception as e:  # noqa: BLE001
                r.step(f"carbons: {name} enables carbons (xep_0280.enable -> result)", False, f"{type(e).__name__}: {e}")

        # B -> A bare: A1 (priority 10) gets it, A2 (priority 0) a <received/> copy.
        body = f"to-bare {tok}"
        send_chat(bob, ja.bare, body)
        got1 = await box1.wait("direct", body, t)
        r.step("carbons: B -> A's bare JID delivered to A1 (higher priority)", got1 is not None,
               describe(got1) if got1 else f"nothing within {t:g}s")
        rc = await box2.wait("received", body, t)
        ok = rc is not None
        detail = f"no <received/> carbon within {t:g}s; A2 direct: {len(box2.get('direct', body))}"
        if rc:
            msg, inner = rc
            ok = (msg["from"] == JID(ja.bare) and msg["to"] == a2.boundjid and inner.get("from") == str(bob.boundjid)
                  and JID(inner.get("to") or "").bare == ja.bare and inner.get("type") == "chat")
            detail = describe(rc)
        r.step("carbons: A2 gets a <received/> copy from A's bare JID with B's message (from B/res, to A, chat)",
               ok, detail)
        r.step("carbons: A2 does not get the message itself, A1 gets no copy of it",
               not box2.get("direct", body) and not box1.get("received", body),
               f"A2 direct {len(box2.get('direct', body))}, A1 carbons {len(box1.get('received', body))}")

        # A1 -> B: B gets it, A2 a <sent/> copy with the exact body.
        body = f"from-A1 {tok} <&> \u00e9\u6f22"
        send_chat(a1, jb.bare, body)
        gb = await boxb.wait("direct", body, t)
        r.step("carbons: A1 -> B delivered (exact body)", gb is not None,
               describe(gb) if gb else f"nothing within {t:g}s")
        sc = await box2.wait("sent", body, t)
        ok = sc is not None
        detail = f"no <sent/> carbon within {t:g}s"
        if sc:
            msg, inner = sc
            ok = (msg["from"] == JID(ja.bare) and inner.get("from") == str(a1.boundjid)
                  and JID(inner.get("to") or "").bare == jb.bare
                  and inner.findtext(q(NS_CLIENT, "body")) == body)
            detail = describe(sc)
        r.step("carbons: A2 gets a <sent/> copy from A's bare JID with the exact body (from A1, to B)", ok, detail)
        await ping(a1, t)
        r.step("carbons: A1 gets no copy of its own message", not box1.get("sent", body),
               f"{len(box1.get('sent', body))} <sent/> copies")
        forged = sum(len(v) for v in box1.items["forged"].values()) + sum(len(v) for v in box2.items["forged"].values())
        r.step("carbons: no carbon from any other address than A's bare JID", forged == 0, f"{forged} seen")

        # <private/> + <no-copy/>: not copied, in either direction. A marker
        # message sent after it is copied; once its copy is in, the private
        # one would have arrived before it.
        def private():
            return [ET.Element(q(NS_CARBONS, "private")), ET.Element(q(NS_HINTS, "no-copy"))]

        body = f"private-in {tok}"
        marker = f"marker-in {tok}"
        send_chat(bob, ja.bare, body, private())
        send_chat(bob, ja.bare, marker)
        g = await box1.wait("direct", body, t)
        m = await box2.wait("received", marker, t)
        await asyncio.sleep(0.3)
        r.step("carbons: B -> A with <private/> + <no-copy/>: A1 gets it, A2 no copy",
               g is not None and m is not None and not box2.get("received", body) and not box2.get("direct", body),
               f"A1 got it: {g is not None}; marker copy at A2: {m is not None}; "
               f"A2 copies of the private one: {len(box2.get('received', body))}")

        body = f"private-out {tok}"
        marker = f"marker-out {tok}"
        send_chat(a1, jb.bare, body, private())
        send_chat(a1, jb.bare, marker)
        g = await boxb.wait("direct", body, t)
        m = await box2.wait("sent", marker, t)
        await asyncio.sleep(0.3)
        r.step("carbons: A1 -> B with <private/> + <no-copy/>: B gets it, A2 no copy",
               g is not None and m is not None and not box2.get("sent", body),
               f"B got it: {g is not None}; marker copy at A2: {m is not None}; "
               f"A2 copies of the private one: {len(box2.get('sent', body))}")

        # A2 disables carbons: no more copies.
        try:
            res = await a2["xep_0280"].disable(timeout=t)
            r.step("carbons: A2 disables carbons (xep_0280.disable -> result)", res["type"] == "result",
                   f"type {res['type']}")
        except Exception as e:  # noqa: BLE001
            r.step("carbons: A2 disables carbons (xep_0280.disable -> result)", False, f"{type(e).__name__}: {e}")
        body_in, body_out = f"after-disable-in {tok}", f"after-disable-out {tok}"
        marker_b, marker_a = f"marker-b {tok}", f"marker-a {tok}"
        send_chat(bob, ja.bare, body_in)
        send_chat(bob, a2.boundjid, marker_b)
        send_chat(a1, jb.bare, body_out)
        send_chat(a1, a2.boundjid, marker_a)
        g_in = await box1.wait("direct", body_in, t)
        g_out = await boxb.wait("direct", body_out, t)
        m_b = await box2.wait("direct", marker_b, t)
        m_a = await box2.wait("direct", marker_a, t)
        await asyncio.sleep(0.3)
        copies_in = len(box2.get("received", body_in)) + len(box2.get("direct", body_in))
        copies_out = len(box2.get("sent", body_out))
        r.step("carbons: after disabling, A2 gets no <received/> copy (A1 still gets B's message)",
               g_in is not None and m_b is not None and copies_in == 0,
               f"A1 got it: {g_in is not None}; marker at A2: {m_b is not None}; copies at A2: {copies_in}")
        r.step("carbons: after disabling, A2 gets no <sent/> copy (B still gets A1's message)",
               g_out is not None and m_a is not None and copies_out == 0,
               f"B got it: {g_out is not None}; marker at A2: {m_a is not None}; copies at A2: {copies_out}")

    # -------------------------------------------------------------------- MAM

    async def fetch(self, client, *, page, reverse=False, max_pages=None, **filters):
        """Pages of a MAM query through slixmpp's RSM iterator: list of (iq result, [result messages]).

        slixmpp's iterator ends silently on an error reply (it turns XMPPError,
        timeouts included, into StopAsyncIteration); the checks on counts and
        'complete' catch a query cut short that way.
        """
        pages = []
        it = client["xep_0313"].retrieve(iterator=True, reverse=reverse, rsm={"max": page}, **filters)
        async for res in it:
            pages.append((res, list(res["mam"]["results"])))
            if max_pages is not None and len(pages) >= max_pages:
                break
            if len(pages) > 1000:
                raise RuntimeError("more than 1000 pages: the iteration does not end")
        return pages

    @staticmethod
    def entries(pages, owner):
        """[(archive id, stamp, forwarded message element, result stanza)] in page order."""
        out = []
        for _res, msgs in pages:
            for m in msgs:
                res = m.xml.find(q(NS_MAM, "result"))
                fwd = res.find(q(NS_FORWARD, "forwarded")) if res is not None else None
                inner = fwd.find(q(NS_CLIENT, "message")) if fwd is not None else None
                delay = fwd.find(q(NS_DELAY, "delay")) if fwd is not None else None
                out.append((res.get("id") if res is not None else None,
                            parse_stamp(delay.get("stamp")) if delay is not None else None, inner, m))
        return out

    @staticmethod
    def rsm(res):
        s = res.xml.find(f"{q(NS_MAM, 'fin')}/{q(NS_RSM, 'set')}")
        if s is None:
            return {}
        first = s.find(q(NS_RSM, "first"))
        return {"count": s.findtext(q(NS_RSM, "count")), "first": s.findtext(q(NS_RSM, "first")),
                "first_index": first.get("index") if first is not None else None,
                "last": s.findtext(q(NS_RSM, "last"))}

    @staticmethod
    def complete(res):
        fin = res.xml.find(q(NS_MAM, "fin"))
        return fin is not None and fin.get("complete") in ("true", "1")

    async def mam(self, a1, a2, bob, carol, box1, box2, boxb):
        a, r, t, tok = self.a, self.r, self.a.timeout, self.token
        ja, jb, jc = self.ja, self.jb, self.jc
        owner = ja.bare
        try:
            res = await a2["xep_0280"].enable(timeout=t)
            r.step("mam: A2 enables carbons again", res["type"] == "result", f"type {res['type']}")
        except Exception as e:  # noqa: BLE001
            r.step("mam: A2 enables carbons again", False, f"{type(e).__name__}: {e}")
        try:
            info = await a1["xep_0030"].get_info(jid=JID(owner), timeout=t)
            feats = set(info["disco_info"]["features"])
            r.step("mam: A's account advertises urn:xmpp:mam:2 and urn:xmpp:sid:0",
                   NS_MAM in feats and NS_SID in feats, f"mam {NS_MAM in feats}, sid {NS_SID in feats}")
        except Exception as e:  # noqa: BLE001
            r.step("mam: A's account advertises urn:xmpp:mam:2 and urn:xmpp:sid:0", False, f"{type(e).__name__}: {e}")

        # Send: even i A1 -> B, odd i B -> A; every 20th also A1 -> C. Each
        # one is awaited before the next, so the archive order is the send order.
        started = datetime.datetime.now(datetime.timezone.utc)
        t0 = time.monotonic()
        sent = []  # (body, contact bare JID, direction) in send order
        ids = {}  # body -> A's archive id as delivered
        missing, leaked = [], []
        for i in range(a.messages):
            if i % 2 == 0:
                body, direction = f"mam {i:03d} A->B {tok}", "out"
                send_chat(a1, jb.bare, body)
                got = await box2.wait("sent", body, t)
                delivered = await boxb.wait("direct", body, t)
                if delivered and owner in stanza_ids(delivered[1]):
                    leaked.append(body)
            else:
                body, direction = f"mam {i:03d} B->A {tok}", "in"
                send_chat(bob, ja.bare, body)
                got = await box1.wait("direct", body, t)
                delivered = got
            sent.append((body, jb.bare, direction))
            if got is None or delivered is None:
                missing.append(body)
            else:
                ids[body] = stanza_ids(got[1]).get(owner)
            if i % 20 == 10:
                body = f"mam {i:03d} A->C {tok}"
                send_chat(a1, jc.bare, body)
                got = await box2.wait("sent", body, t)
                delivered = await self.boxc.wait("direct", body, t)
                if delivered and owner in stanza_ids(delivered[1]):
                    leaked.append(body)
                sent.append((body, jc.bare, "out"))
                if got is None or delivered is None:
                    missing.append(body)
                else:
                    ids[body] = stanza_ids(got[1]).get(owner)
        ended = datetime.datetime.now(datetime.timezone.utc)
        took = time.monotonic() - t0
        r.step(f"mam: {len(sent)} messages exchanged (A<->B alternating, A->C), each delivered "
               f"and copied to A2 ({took:.1f}s)", not missing,
               f"{len(missing)} missing, first: {missing[:3]}")
        no_id = [b for b, _c, _d in sent if b in ids and not ids[b]]
        r.step(f"mam: every delivered copy (incoming) and <sent/> carbon (outgoing) carries <stanza-id by='{owner}'/>",
               not no_id and len(ids) == len(sent), f"{len(no_id)} without, first: {no_id[:3]}")
        r.step("mam: B's and C's copies never carry A's archive id", not leaked, f"{len(leaked)} leaked, first: {leaked[:3]}")
        # The stanza-id in the received carbon equals the delivered one.
        mismatch = []
        for body, _c, d in sent:
            if d == "in" and body in ids:
                rc = box2.get("received", body)
                if not rc or stanza_ids(rc[0][1]).get(owner) != ids[body]:
                    mismatch.append(body)
        r.step("mam: A2's <received/> carbons carry the same stanza-id as A1's delivered copy", not mismatch,
               f"{len(mismatch)} differ or missing, first: {mismatch[:3]}")

        # Concurrent senders: B and C each send a burst to A at the same time.
        # The archive's times must still grow with its order (start/end
        # filters rely on it).
        burst = [f"burst {w} {k:02d} {tok}" for k in range(a.burst) for w in ("B", "C")]
        for body in burst:
            send_chat(bob if body.startswith("burst B") else carol, ja.bare, body)
        got = [await box1.wait("direct", body, t) for body in burst]
        r.step(f"mam: B and C send {a.burst} messages each to A at the same time: all delivered",
               None not in got, f"{got.count(None)} missing")

        # Whole archive, forward, pages of --page.
        page = a.page
        t0 = time.monotonic()
        try:
            pages = await self.fetch(a1, page=page)
        except Exception as e:  # noqa: BLE001
            r.step("mam: whole archive via the RSM iterator", False, f"{type(e).__name__}: {e}")
            return
        took = time.monotonic() - t0
        allm = self.entries(pages, owner)
        first = self.rsm(pages[0][0]) if pages else {}
        count = int(first["count"]) if first.get("count", "").isdigit() else None
        sizes = [len(m) for _r, m in pages]
        r.step(f"mam: whole archive fetched in {len(pages)} pages of {page} ({len(allm)} results, {took:.2f}s)",
               bool(pages) and all(s == page for s in sizes[:-1]) and 0 < sizes[-1] <= page,
               f"page sizes {sizes}")
        # <first index/> is optional in XEP-0059 (Prosody leaves it out); when present it must be 0.
        r.step("mam: RSM count equals the results fetched, first index 0 (when given)",
               count == len(allm) and first.get("first_index") in ("0", None),
               f"count {first.get('count')!r}, first index {first.get('first_index')!r}, fetched {len(allm)}")
        flags = [self.complete(res) for res, _m in pages]
        r.step("mam: complete='true' on the last page only", bool(flags) and flags[-1] and not any(flags[:-1]),
               f"complete flags {flags}")
        rsm_ok = all(self.rsm(res).get("first") == m[0].xml.find(q(NS_MAM, "result")).get("id")
                     and self.rsm(res).get("last") == m[-1].xml.find(q(NS_MAM, "result")).get("id")
                     for res, m in pages if m)
        r.step("mam: each page's RSM <first/>/<last/> are its first and last archive ids", rsm_ok)
        # No 'from' means the account itself (RFC 6120 8.1.2.1).
        bad_from = [m.xml.get("from") for _i, _s, _n, m in allm
                    if m.xml.get("from") and JID(m.xml.get("from")) != JID(owner)]
        r.step("mam: every result comes from A's bare JID", not bad_from, f"{len(bad_from)} others: {bad_from[:3]}")
        aids = [i for i, _s, _n, _m in allm]
        r.step("mam: every archive id present and seen once", None not in aids and len(set(aids)) == len(aids),
               f"{len(aids) - len(set(aids))} duplicates, missing ids: {aids.count(None)}")
        stamps = [s for _i, s, _n, _m in allm]
        r.step("mam: every result has a <delay/> stamp, stamps in archive order",
               None not in stamps and all(x <= y for x, y in zip(stamps, stamps[1:])),
               f"missing {stamps.count(None)}; "
               f"{sum(1 for x, y in zip(stamps, stamps[1:]) if x and y and x > y)} decreases, first: " + next(
                   (f"{allm[k][0]}@{x.isoformat()} then {allm[k + 1][0]}@{y.isoformat()}"
                    for k, (x, y) in enumerate(zip(stamps, stamps[1:])) if x and y and x > y), "none"))
        bad_inner = [i for i, _s, n, _m in allm if n is None or not n.get("from") or not n.get("to")]
        r.step("mam: every result forwards a jabber:client <message/> with from and to", not bad_inner,
               f"{len(bad_inner)} without")

        by_body = {}
        for aid, stamp, inner, _m in allm:
            b = inner.findtext(q(NS_CLIENT, "body")) if inner is not None else None
            if b is not None and b.endswith(tok) and b.startswith("mam "):
                by_body.setdefault(b, []).append((aid, stamp, inner))
        ours = [b for b in (n.findtext(q(NS_CLIENT, "body")) if n is not None else None for _i, _s, n, _m in allm)
                if b in by_body]
        want = [b for b, _c, _d in sent]
        twice = [b for b, e in by_body.items() if len(e) > 1]
        r.step(f"mam: each of the {len(want)} messages of this run archived once, in the order sent",
               ours == want and not twice,
               f"archived {len(ours)} of {len(want)}, twice {len(twice)}; "
               f"missing {[b for b in want if b not in by_body][:3]}; "
               f"first out of order: {next((x for x, y in zip(ours, want) if x != y), None)}")
        diff = [b for b in want if b in by_body and ids.get(b) and by_body[b][0][0] != ids[b]]
        r.step("mam: archive ids equal the <stanza-id/> the messages were delivered with", not diff and bool(ids),
               f"{len(diff)} differ, e.g. {diff[:1]} archive {by_body[diff[0]][0][0] if diff else ''} "
               f"delivered {ids.get(diff[0]) if diff else ''}")
        wrong_dir = []
        for body, contact, d in sent:
            if body in by_body:
                inner = by_body[body][0][2]
                f, to = JID(inner.get("from") or ""), JID(inner.get("to") or "")
                if (d == "out" and (f.bare != owner or to.bare != contact)) or \
                        (d == "in" and (f.bare != contact or to.bare != owner)):
                    wrong_dir.append(body)
        r.step("mam: archived messages keep their from/to (outgoing from A, incoming to A)", not wrong_dir,
               f"{len(wrong_dir)} wrong, first {wrong_dir[:2]}")

        def contact_of(inner):
            f, to = JID(inner.get("from") or ""), JID(inner.get("to") or "")
            return to.bare if f.bare == owner else f.bare

        # 'with' = B over the whole archive.
        want_b = [i for i, _s, n, _m in allm if n is not None and contact_of(n) == jb.bare]
        try:
            got = [i for i, *_ in self.entries(await self.fetch(a1, page=page, with_jid=JID(jb.bare)), owner)]
            r.step(f"mam: 'with' = B over the whole archive: exactly B's {len(want_b)} messages, in order",
                   got == want_b, f"got {len(got)}, want {len(want_b)}")
        except Exception as e:  # noqa: BLE001
            r.step("mam: 'with' = B over the whole archive", False, f"{type(e).__name__}: {e}")

        # 'with' = B / C from this run's start: exactly this run's messages.
        run_start = next(s for i, s, *_ in allm if i == by_body[want[0]][0][0]) if want[0] in by_body else started
        for contact, label in ((jb.bare, "B"), (jc.bare, "C")):
            want_ids = [i for i, s, n, _m in allm
                        if n is not None and contact_of(n) == contact and s is not None and s >= run_start]
            try:
                got = [i for i, *_ in self.entries(await self.fetch(a1, page=page, with_jid=JID(contact),
                                                                     start=run_start), owner)]
                r.step(f"mam: 'with' = {label} and start = this run's first message: the {len(want_ids)} "
                       f"messages with {label} since, in order", got == want_ids and len(want_ids) > 0,
                       f"got {len(got)}, want {len(want_ids)}")
            except Exception as e:  # noqa: BLE001
                r.step(f"mam: 'with' = {label} and start", False, f"{type(e).__name__}: {e}")

        # start/end window from stamps the server gave (inclusive bounds).
        lo, hi = len(want) // 3, 2 * len(want) // 3
        if want[lo] in by_body and want[hi] in by_body:
            s_lo, s_hi = by_body[want[lo]][0][1], by_body[want[hi]][0][1]
            want_ids = [i for i, s, *_ in allm if s is not None and s_lo <= s <= s_hi]
            try:
                got = [i for i, *_ in self.entries(await self.fetch(a1, page=page, start=s_lo, end=s_hi), owner)]
                stamp = {i: s for i, s, *_ in allm}
                lost = [f"{i}@{stamp[i].isoformat()}" for i in want_ids if i not in got]
                extra = [f"{i}@{stamp[i].isoformat() if stamp.get(i) else '?'}" for i in got if i not in want_ids]
                r.step(f"mam: start/end = stamps of messages {lo} and {hi} (inclusive): the {len(want_ids)} "
                       f"messages between, in order", got == want_ids,
                       f"got {len(got)}, want {len(want_ids)}; start {s_lo.isoformat()} end {s_hi.isoformat()}; "
                       f"missing {lost[:3]}, unexpected {extra[:3]}")
            except Exception as e:  # noqa: BLE001
                r.step("mam: start/end window", False, f"{type(e).__name__}: {e}")
        else:
            r.step("mam: start/end window", False, "not run: messages missing from the archive")
        # A window inside the concurrent burst; end is widened to the end of
        # its millisecond so only the archive order matters here.
        stamp = {i: s for i, s, *_ in allm}
        bstamps = [s for _i, s, n, _m in allm if n is not None and
                   (n.findtext(q(NS_CLIENT, "body")) or "").startswith("burst ") and
                   (n.findtext(q(NS_CLIENT, "body")) or "").endswith(tok)]
        if len(bstamps) == len(burst) and None not in bstamps:
            s_lo = sorted(bstamps)[len(bstamps) // 4]
            s_hi = sorted(bstamps)[3 * len(bstamps) // 4]
            e_hi = s_hi + datetime.timedelta(microseconds=999)
            want_ids = [i for i, s, *_ in allm if s is not None and s_lo <= s <= s_hi]
            try:
                got = [i for i, *_ in self.entries(await self.fetch(a1, page=page, start=s_lo, end=e_hi), owner)]
                r.step(f"mam: start/end window inside the concurrent burst: the {len(want_ids)} messages "
                       f"stamped between", got == want_ids,
                       f"got {len(got)}, want {len(want_ids)}; start {s_lo.isoformat()} end {e_hi.isoformat()}; "
                       f"missing {[i for i in want_ids if i not in got][:3]}, "
                       f"unexpected {[f'{i}@{stamp[i].isoformat()}' for i in got if i not in want_ids][:3]}")
            except Exception as e:  # noqa: BLE001
                r.step("mam: start/end window inside the concurrent burst", False, f"{type(e).__name__}: {e}")
        else:
            r.step("mam: start/end window inside the concurrent burst", False,
                   f"not run: {len(bstamps)} of {len(burst)} burst messages archived")
        try:
            got = self.entries(await self.fetch(a1, page=page, start=ended + datetime.timedelta(hours=1)), owner)
            r.step("mam: start in the future: no results", got == [], f"{len(got)} results")
        except Exception as e:  # noqa: BLE001
            r.step("mam: start in the future: no results", False, f"{type(e).__name__}: {e}")

        # Reverse: empty <before/> = last page, then the page before it.
        # slixmpp 1.8.3's iterator cannot be used past the first reverse page:
        # it stops when first index + page size == count, which is true of
        # the last page (it is a forward-only test). The page before is asked
        # for with retrieve() and an explicit <before/>.
        try:
            rp = await self.fetch(a1, page=page, reverse=True, max_pages=1)
            p1 = [i for i, *_ in self.entries(rp, owner)]
            r.step(f"mam: reverse iteration: empty <before/> returns the last {page} messages, oldest first",
                   p1 == aids[-page:], f"got {len(p1)}; matches last page: {p1 == aids[-page:]}")
            if len(aids) > page:
                r.step("mam: reverse iteration: last page says complete='false' (older messages exist)",
                       rp and not self.complete(rp[0][0]), "")
            first_id = self.rsm(rp[0][0]).get("first") if rp else None
            res = await a1["xep_0313"].retrieve(rsm={"max": page, "before": first_id}, timeout=t)
            p2 = [i for i, *_ in self.entries([(res, list(res["mam"]["results"]))], owner)]
            want2 = aids[max(0, len(aids) - 2 * page):-page]
            r.step("mam: reverse iteration: <before/> the first id gives the page before it", p2 == want2,
                   f"got {len(p2)}, want {len(want2)}")
        except Exception as e:  # noqa: BLE001
            r.step("mam: reverse iteration", False, f"{type(e).__name__}: {e}")

    async def run(self):
        a = self.a
        try:
            a1, box1 = await self.connect(a.user_a, f"A1-{self.token[:4]}", 10)
            a2, box2 = await self.connect(a.user_a, f"A2-{self.token[:4]}", 0)
            bob, boxb = await self.connect(a.user_b, f"B-{self.token[:4]}", 0)
            carol, self.boxc = await self.connect(a.user_c, f"C-{self.token[:4]}", 0)
            if a1 and a2 and bob and carol:
                await self.carbons(a1, a2, bob, box1, box2, boxb)
                await self.mam(a1, a2, bob, carol, box1, box2, boxb)
            else:
                self.r.step("carbons/mam steps", False, "not run: a login failed")
        finally:
            await close_all(self.clients)
        return self.r.finish()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--user-a", default="alice", help="logs in twice (A1, A2)")
    p.add_argument("--user-b", default="bob")
    p.add_argument("--user-c", default="carol", help="third party for the 'with' filter")
    p.add_argument("--messages", type=int, default=120, help="messages exchanged between A and B (default 120)")
    p.add_argument("--page", type=int, default=50, help="RSM page size (default 50)")
    p.add_argument("--burst", type=int, default=25,
                   help="messages B and C each send to A at the same time (default 25)")
    args = p.parse_args()
    if args.messages < 6 or args.page < 1:
        p.error("--messages must be >= 6 and --page >= 1")
    setup_logging(args)
    print(f"slixmpp_carbons_mam: {args.host}:{args.port} domain {args.domain}", flush=True)
    sys.exit(asyncio.run(CarbonsMAM(args).run()))


if __name__ == "__main__":
    main()
