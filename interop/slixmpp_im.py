#!/usr/bin/python3
"""Interop: slixmpp (Debian python3-slixmpp) against an XMPP server, core IM (RFC 6120/6121).

    slixmpp_im.py --host 127.0.0.1 --port 5222 --domain localhost --password secret \
        [--user-a alice --user-b bob --user-c carol] [--mech-a SCRAM-SHA-256 --mech-b SCRAM-SHA-1] \
        [--timeout 10] [-v]

Accounts A, B, C must exist with the given password; C must be offline when the
script starts. Steps:
  auth:     SCRAM-SHA-256 (A), SCRAM-SHA-1 (B) forced over plain TCP and the used
            mechanism asserted (--mech-a/--mech-b change them: Prosody 0.12 and
            ejabberd 23.01 as set up in shared/peers offer no SCRAM-SHA-256); STARTTLS (certificate not verified) + the client's
            preferred mechanism (B, second resource); a wrong password is refused
            with <not-authorized/>
  roster:   A adds B (name, group): result + push; A subscribes to B: B gets the
            request from A's bare JID, A's push shows ask=subscribe; B approves:
            A gets <subscribed/>, pushes give A:to and B:from, A receives B's
            presence; the reverse subscription gives both:both and B sees A's
            presence; roster get on both sides; a presence change of A reaches B
  chat:     A -> B (bare JID) delivered live without <delay/>; B -> A's full JID
  offline:  A -> C while C is offline; C logs in and gets it with a XEP-0203
            <delay/>; on a second login it is not delivered again
  cleanup:  A removes B: B's item drops to subscription none (RFC 6121 2.5.3)
Exit status 0 only when every step passed. -v writes slixmpp's protocol trace to stderr.
"""
import argparse
import asyncio
import datetime
import os
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from xmpptest import JID, Report, add_common_args, close_all, login, setup_logging, wait


def roster_push(jid, pred=lambda it: True):
    """Predicate for a roster push (iq set) carrying an item for jid."""
    jid = JID(jid).bare

    def match(iq):
        if iq["type"] != "set":
            return False
        items = iq["roster"]["items"]
        return jid in items and pred(items[jid])
    return match


def item_str(item):
    if item is None:
        return "no item"
    s = f"subscription={item['subscription']}"
    if item["ask"]:
        s += f" ask={item['ask']}"
    if item["name"]:
        s += f" name={item['name']!r}"
    if item["groups"]:
        s += f" groups={list(item['groups'])}"
    return s


async def roster_item(client, jid, timeout):
    """(item or None) from a fresh roster get."""
    iq = client.Iq()
    iq["type"] = "get"
    iq.enable("roster")
    res = await iq.send(timeout=timeout)
    return res["roster"]["items"].get(JID(jid).bare)


async def roster_remove(client, jid, timeout):
    iq = client.Iq()
    iq["type"] = "set"
    iq["roster"]["items"] = {JID(jid).bare: {"subscription": "remove"}}
    try:
        await iq.send(timeout=timeout)
    except Exception:  # noqa: BLE001 - item-not-found when absent is fine here
        pass


async def barrier(client, timeout):
    """Round trip to the server: stanzas sent before it have been processed."""
    try:
        await client["xep_0199"].ping(JID(client.boundjid.domain), timeout=timeout)
    except Exception:  # noqa: BLE001 - a missing ping is not what this script tests
        iq = client.Iq()
        iq["type"] = "get"
        iq.enable("roster")
        try:
            await iq.send(timeout=timeout)
        except Exception:  # noqa: BLE001
            pass


class IM:
    def __init__(self, args):
        self.a = args
        self.r = Report("slixmpp_im")
        self.token = uuid.uuid4().hex[:8]
        self.clients = []
        d = args.domain
        self.ja, self.jb, self.jc = (JID(f"{u}@{d}") for u in (args.user_a, args.user_b, args.user_c))

    async def login_step(self, label, user, **kw):
        c, err = await login(self.a, user, **kw)
        if c:
            self.clients.append(c)
        return c, err

    async def auth(self):
        a, r = self.a, self.r
        alice, err = await self.login_step("A", a.user_a, mech=a.mech_a)
        if alice:
            r.step(f"auth: {a.mech_a} login ({a.user_a})", alice.mech_name == a.mech_a,
                   f"used {alice.mech_name}, offered {alice.offered_mechs}, bound {alice.boundjid}")
        else:
            r.step(f"auth: {a.mech_a} login ({a.user_a})", False, err)
            # Go on with the other steps: A logs in with any mechanism.
            alice, err = await self.login_step("A", a.user_a)
            if not alice:
                r.step(f"auth: login with any mechanism ({a.user_a})", False, err)
        bob, err = await self.login_step("B", a.user_b, mech=a.mech_b)
        if bob:
            r.step(f"auth: {a.mech_b} login ({a.user_b})", bob.mech_name == a.mech_b,
                   f"used {bob.mech_name}, bound {bob.boundjid}")
        else:
            r.step(f"auth: {a.mech_b} login ({a.user_b})", False, err)

        tls, err = await login(a, a.user_b, starttls=True, resource="tls", roster=False, presence=False)
        if tls:
            sslobj = tls.transport.get_extra_info("ssl_object") if tls.transport else None
            r.step(f"auth: STARTTLS + preferred mechanism ({a.user_b}/tls)", sslobj is not None,
                   f"{sslobj.version() if sslobj else 'no TLS'}, mechanism {tls.mech_name}")
            await close_all([tls])
        else:
            r.step(f"auth: STARTTLS + preferred mechanism ({a.user_b}/tls)", False, err)

        bad = argparse.Namespace(**vars(a))
        bad.password = a.password + "-wrong"
        failures = []
        c, err = await login(bad, a.user_c, mech="SCRAM-SHA-1", roster=False, presence=False,
                             before_connect=lambda cl: cl.add_event_handler(
                                 "failed_auth", lambda f: failures.append(f["condition"])))
        if c:
            await close_all([c])
        r.step(f"auth: wrong password refused ({a.user_c})",
               c is None and failures[:1] == ["not-authorized"],
               "session opened!" if c else f"SASL failure conditions {failures}")
        return alice, bob

    async def roster(self, alice, bob):
        a, r, t = self.a, self.r, self.a.timeout
        ja, jb = self.ja, self.jb
        # Clean start (the accounts may be reused on a long-running server).
        await roster_remove(alice, jb, t)
        await roster_remove(bob, ja, t)
        await barrier(alice, t)
        await barrier(bob, t)
        ia, ib = await roster_item(alice, jb, t), await roster_item(bob, ja, t)
        r.step("roster: clean start (no items between A and B)", ia is None and ib is None,
               f"A has {item_str(ia)}; B has {item_str(ib)}")

        # A adds B.
        push = alice.expect("roster_update", roster_push(jb))
        iq = alice.Iq()
        iq["type"] = "set"
        iq["roster"]["items"] = {jb.bare: {"name": "Bee", "groups": ["Interop"]}}
        try:
            await iq.send(timeout=t)
            p = await wait(push, t)
            it = p["roster"]["items"][jb.bare] if p else None
            r.step("roster: A adds B -> result and push subscription=none",
                   it is not None and it["subscription"] == "none" and it["name"] == "Bee"
                   and list(it["groups"]) == ["Interop"], item_str(it) if p else "no push")
        except Exception as e:  # noqa: BLE001
            r.step("roster: A adds B -> result and push subscription=none", False, f"{type(e).__name__}: {e}")

        # A subscribes to B.
        req = bob.expect("presence", lambda p: p["type"] == "subscribe" and p["from"].bare == ja.bare)
        push = alice.expect("roster_update", roster_push(jb, lambda it: it["ask"] == "subscribe"))
        alice.send_presence(pto=jb.bare, ptype="subscribe")
        p = await wait(req, t)
        r.step("presence: B receives A's subscription request from A's bare JID",
               p is not None and p["from"] == JID(ja.bare), f"from {p['from']}" if p else f"nothing within {t:g}s")
        p = await wait(push, t)
        r.step("roster: A's push shows ask=subscribe", p is not None,
               item_str(p["roster"]["items"][jb.bare]) if p else f"no such push within {t:g}s")

        # B approves.
        got_subd = alice.expect("presence", lambda p: p["type"] == "subscribed" and p["from"].bare == jb.bare)
        push_a = alice.expect("roster_update", roster_push(jb, lambda it: it["subscription"] == "to"))
        push_b = bob.expect("roster_update", roster_push(ja, lambda it: it["subscription"] == "from"))
        pres = alice.expect("presence", lambda p: p["from"] == bob.boundjid and p["type"] in
                            ("available", "away", "chat", "dnd", "xa"))
        bob.send_presence(pto=ja.bare, ptype="subscribed")
        p = await wait(got_subd, t)
        r.step("presence: A receives B's <subscribed/>", p is not None, f"from {p['from']}" if p else "nothing")
        p = await wait(push_a, t)
        r.step("roster: A's push shows subscription=to",
               p is not None and not p["roster"]["items"][jb.bare]["ask"],
               item_str(p["roster"]["items"][jb.bare]) if p else "no such push")
        p = await wait(push_b, t)
        r.step("roster: B's push shows subscription=from", p is not None,
               item_str(p["roster"]["items"][ja.bare]) if p else "no such push")
        p = await wait(pres, t)
        r.step("presence: A receives B's available presence after approval", p is not None,
               f"from {p['from']}" if p else f"nothing from {bob.boundjid}")

        # Reverse: B subscribes to A, A approves -> both.
        req = alice.expect("presence", lambda p: p["type"] == "subscribe" and p["from"].bare == jb.bare)
        bob.send_presence(pto=ja.bare, ptype="subscribe")
        p = await wait(req, t)
        r.step("presence: A receives B's subscription request", p is not None, "" if p else "nothing")
        push_a = alice.expect("roster_update", roster_push(jb, lambda it: it["subscription"] == "both"))
        push_b = bob.expect("roster_update", roster_push(ja, lambda it: it["subscription"] == "both"))
        pres = bob.expect("presence", lambda p: p["from"] == alice.boundjid and p["type"] in
                          ("available", "away", "chat", "dnd", "xa"))
        alice.send_presence(pto=jb.bare, ptype="subscribed")
        pa, pb, pp = await wait(push_a, t), await wait(push_b, t), await wait(pres, t)
        r.step("roster: pushes show subscription=both on both sides", pa is not None and pb is not None,
               f"A push: {'yes' if pa else 'none'}, B push: {'yes' if pb else 'none'}")
        r.step("presence: B receives A's available presence after approval", pp is not None,
               f"from {pp['from']}" if pp else f"nothing from {alice.boundjid}")

        ia, ib = await roster_item(alice, jb, t), await roster_item(bob, ja, t)
        r.step("roster: roster get on A shows B both, name and group kept",
               ia is not None and ia["subscription"] == "both" and not ia["ask"] and ia["name"] == "Bee"
               and list(ia["groups"]) == ["Interop"], item_str(ia))
        r.step("roster: roster get on B shows A both", ib is not None and ib["subscription"] == "both"
               and not ib["ask"], item_str(ib))

        # A's presence change reaches B.
        status = f"busy {self.token}"
        pres = bob.expect("presence", lambda p: p["from"] == alice.boundjid and p["status"] == status)
        alice.send_presence(pshow="away", pstatus=status)
        p = await wait(pres, t)
        r.step("presence: B sees A's presence change (show=away, status)", p is not None and p["show"] == "away",
               f"show={p['show']!r}" if p else "nothing")

    async def chat(self, alice, bob):
        r, t = self.r, self.a.timeout
        body = f"live {self.token}"
        fut = bob.expect("message", lambda m: m["body"] == body)
        alice.send_message(mto=self.jb.bare, mbody=body, mtype="chat")
        m = await wait(fut, t)
        r.step("chat: B receives A's message live (to bare JID)",
               m is not None and m["type"] == "chat" and m["from"] == alice.boundjid
               and m.xml.find("{urn:xmpp:delay}delay") is None,
               f"from {m['from']} type {m['type']} delay={m.xml.find('{urn:xmpp:delay}delay') is not None}"
               if m else f"nothing within {t:g}s")
        body = f"reply {self.token}"
        fut = alice.expect("message", lambda m: m["body"] == body)
        bob.send_message(mto=alice.boundjid, mbody=body, mtype="chat")
        m = await wait(fut, t)
        r.step("chat: A receives B's reply (to full JID)", m is not None and m["from"] == bob.boundjid,
               f"from {m['from']}" if m else f"nothing within {t:g}s")

    async def offline(self, alice):
        a, r, t = self.a, self.r, self.a.timeout
        body = f"offline {self.token}"
        errors = alice.collect("message", lambda m: m["type"] == "error" and m["from"].bare == self.jc.bare)
        before = datetime.datetime.now(datetime.timezone.utc)
        alice.send_message(mto=self.jc.bare, mbody=body, mtype="chat")
        await barrier(alice, t)
        await asyncio.sleep(0.5)  # let the server route and store it
        futs = {}
        carol, err = await login(a, a.user_c, before_connect=lambda c: futs.setdefault(
            "m", c.expect("message", lambda m: m["body"] == body)))
        if not carol:
            r.step(f"offline: {a.user_c} logs in", False, err)
            return
        self.clients.append(carol)
        m = await wait(futs["m"], t)
        if not r.step("offline: message to offline C delivered at C's login", m is not None,
                      f"from {m['from']}" if m else
                      f"nothing within {t:g}s" + (f"; A got error {errors[0]['error']['condition']}" if errors else "")):
            return
        d = m.xml.find("{urn:xmpp:delay}delay")
        stamp = d.get("stamp") if d is not None else None
        ok = False
        detail = "no <delay xmlns='urn:xmpp:delay'/>"
        if stamp:
            try:
                ts = datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                # Generous skew: only catches a missing/garbled stamp, not speed.
                ok = ts.tzinfo is not None and before - datetime.timedelta(minutes=5) <= ts <= \
                    datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
                detail = f"stamp {stamp} from {d.get('from')!r}"
            except ValueError:
                detail = f"unparseable stamp {stamp!r}"
        r.step("offline: delivered message carries a XEP-0203 <delay/> with a UTC stamp", ok, detail)
        r.step("offline: from is A's full JID, type chat", m["from"].bare == self.ja.bare and m["type"] == "chat",
               f"from {m['from']} type {m['type']}")
        await close_all([carol])
        self.clients.remove(carol)
        again = {}
        carol, err = await login(a, a.user_c, resource="again", before_connect=lambda c: again.setdefault(
            "m", c.expect("message", lambda m: m["body"] == body)))
        if not carol:
            r.step("offline: not delivered again on the next login", False, err)
            return
        self.clients.append(carol)
        await barrier(carol, t)
        m = await wait(again["m"], 1.5)
        r.step("offline: not delivered again on the next login", m is None, "delivered twice" if m else "")

    async def cleanup(self, alice, bob):
        r, t = self.r, self.a.timeout
        push_b = bob.expect("roster_update", roster_push(self.ja, lambda it: it["subscription"] == "none"))
        push_a = alice.expect("roster_update", roster_push(self.jb, lambda it: it["subscription"] == "remove"))
        await roster_remove(alice, self.jb, t)
        pa, pb = await wait(push_a, t), await wait(push_b, t)
        r.step("roster: A removes B -> A's push subscription=remove, B's item drops to none",
               pa is not None and pb is not None, f"A push: {'yes' if pa else 'none'}, B push: {'yes' if pb else 'none'}")
        await roster_remove(bob, self.ja, t)

    async def run(self):
        try:
            alice, bob = await self.auth()
            if alice and bob:
                await self.roster(alice, bob)
                await self.chat(alice, bob)
                await self.offline(alice)
                await self.cleanup(alice, bob)
            else:
                self.r.step("roster/chat/offline steps", False, "not run: login of A or B failed")
        finally:
            await close_all(self.clients)
        return self.r.finish()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--user-a", default="alice")
    p.add_argument("--user-b", default="bob")
    p.add_argument("--user-c", default="carol", help="must be offline at start (offline-message steps)")
    p.add_argument("--mech-a", default=os.environ.get("INTEROP_MECH_A", "SCRAM-SHA-256"),
                   help="SASL mechanism forced for A over plain TCP (env INTEROP_MECH_A)")
    p.add_argument("--mech-b", default=os.environ.get("INTEROP_MECH_B", "SCRAM-SHA-1"),
                   help="SASL mechanism forced for B over plain TCP (env INTEROP_MECH_B)")
    args = p.parse_args()
    setup_logging(args)
    print(f"slixmpp_im: {args.host}:{args.port} domain {args.domain}", flush=True)
    sys.exit(asyncio.run(IM(args).run()))


if __name__ == "__main__":
    main()
