#!/usr/bin/python3
"""Interop: slixmpp's XEP-0045 plugin (Debian python3-slixmpp, xep_0045) against an
XMPP server's Multi-User Chat service.

    slixmpp_muc.py --host 127.0.0.1 --port 5222 --domain localhost --password secret \
        [--muc-domain conference.localhost] [--owner alice --users bob,carol,dave] \
        [--timeout 10] [-v]

The owner and the three users must exist with the given password. The room is
new on every run (interop-slix-<random>@<muc-domain>). Steps:
  create:   the owner joins a new room: self-presence with 110 and 201 (locked);
            another user's join is refused with item-not-found while it is locked
  config:   get_room_config returns a muc#roomconfig form; set_room_config submits
            it with a room name, persistent, moderated off, whois anyone; room
            disco#info then shows the name and muc_persistent, muc_unmoderated,
            muc_nonanonymous
  join:     B and C join with join_muc_wait: 110 and 100 (non-anonymous) on
            their self-presence, the occupant list the plugin returns and
            get_roster; the owner sees each join with the real JID
  chat:     the owner's and B's groupchat messages reach all three occupants
            from room/nick, the sender's id reflected, with one XEP-0359
            <stanza-id by='room'/>
  subject:  set_subject reaches all from room/owner-nick
  history:  D joins late (maxstanzas 20): both messages as history with
            <delay from='room'/> in order, then the subject from the owner's nick
  nick:     C changes nick: others see unavailable + 303 with the new nick,
            then available presence from the new nick; C gets 303 + 110 too
  kick:     set_role(nick, 'none'): C gets unavailable with 307 + 110 and the
            reason; the others get 307; C's groupchat is refused (not-acceptable)
  ban:      set_affiliation(outcast): D gets 301 + 110; the others 301; the
            outcast list has D; D's rejoin fails with forbidden
  members:  set_affiliation(B, member): everyone sees B's new affiliation; the
            member list has B; members-only on: 104 to occupants; C's join
            refused with registration-required
  destroy:  destroy with a reason: B gets unavailable with <destroy><reason/>;
            the room is gone (disco#info item-not-found)
Exit status 0 only when every step passed. -v writes slixmpp's protocol trace to stderr.
"""
import argparse
import asyncio
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from xmpptest import JID, Report, add_common_args, close_all, login, setup_logging  # re-execs /usr/bin/python3

from slixmpp.exceptions import IqError, IqTimeout, PresenceError  # noqa: E402
from slixmpp.xmlstream.handler import Callback  # noqa: E402
from slixmpp.xmlstream.matcher import MatchXPath  # noqa: E402
import slixmpp.plugins.xep_0045.muc as slix_muc  # noqa: E402

# slixmpp 1.8.3's join_muc_wait print()s the <delay/> of every message it sees
# during a join (a leftover debug print): send it to the debug log, not stdout.
slix_muc.print = lambda *a, **_k: slix_muc.log.debug("join_muc_wait: %s", " ".join(map(str, a)))

NS_CLIENT = "jabber:client"
NS_MUC_USER = "http://jabber.org/protocol/muc#user"
NS_SID = "urn:xmpp:sid:0"
NS_DELAY = "urn:xmpp:delay"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"
ROOMCONFIG = "http://jabber.org/protocol/muc#roomconfig"


def q(ns, local):
    return f"{{{ns}}}{local}"


def codes(stanza):
    """Status codes of the stanza's muc#user <x/> (raw XML: the plugin's view needs room state)."""
    x = stanza.xml.find(q(NS_MUC_USER, "x"))
    if x is None:
        return set()
    out = set()
    for s in x.findall(q(NS_MUC_USER, "status")):
        try:
            out.add(int(s.get("code", "")))
        except ValueError:
            pass
    return out


def item(stanza):
    """The muc#user <item/> attributes (+ 'reason'), or {}."""
    x = stanza.xml.find(q(NS_MUC_USER, "x"))
    it = x.find(q(NS_MUC_USER, "item")) if x is not None else None
    if it is None:
        return {}
    d = dict(it.attrib)
    r = it.find(q(NS_MUC_USER, "reason"))
    if r is not None:
        d["reason"] = r.text or ""
    actor = it.find(q(NS_MUC_USER, "actor"))
    if actor is not None:
        d["actor"] = actor.get("nick") or actor.get("jid") or ""
    return d


def stanza_ids(msg):
    return [(e.get("id"), e.get("by")) for e in msg.xml.findall(q(NS_SID, "stanza-id"))]


def error_condition(stanza):
    err = stanza.xml.find(q(NS_CLIENT, "error"))
    if err is None:
        return None
    for child in err:
        if child.tag.startswith("{" + NS_STANZAS + "}") and not child.tag.endswith("}text"):
            return child.tag.split("}", 1)[1]
    return "?"


def show(stanza):
    """Short description for failure details."""
    s = f"<{stanza.name} from={stanza['from']} type={stanza['type']}"
    c = codes(stanza)
    if c:
        s += f" codes={sorted(c)}"
    it = item(stanza)
    if it:
        s += f" item={it}"
    if stanza.name == "message":
        if stanza["body"]:
            s += f" body={stanza['body']!r}"
        if stanza["subject"]:
            s += f" subject={stanza['subject']!r}"
    cond = error_condition(stanza)
    if cond:
        s += f" error={cond}"
    return s + ">"


class Watch:
    """Every message and presence a client receives, in arrival order, read from
    the stream (slixmpp's own events drop some: 'message' needs a body, MUC
    presences are hidden from 'presence' once the plugin tracks the room)."""

    def __init__(self, client):
        self.client = client
        self.stanzas = []
        self.changed = asyncio.Event()
        for kind in ("message", "presence"):
            client.register_handler(Callback(f"muc watch {kind}", MatchXPath(q(NS_CLIENT, kind)), self._on))

    def _on(self, stanza):
        self.stanzas.append(stanza)
        self.changed.set()
        self.changed = asyncio.Event()

    def mark(self):
        return len(self.stanzas)

    def since(self, mark, pred=lambda _s: True):
        return [s for s in self.stanzas[mark:] if pred(s)]

    async def wait(self, pred, timeout, mark=0):
        """First stanza from index mark on matching pred, or None after timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        i = mark
        while True:
            while i < len(self.stanzas):
                if pred(self.stanzas[i]):
                    return self.stanzas[i]
                i += 1
            left = deadline - loop.time()
            if left <= 0:
                return None
            ev = self.changed
            try:
                await asyncio.wait_for(ev.wait(), left)
            except asyncio.TimeoutError:
                pass


class MUC:
    def __init__(self, args):
        self.a = args
        self.r = Report("slixmpp_muc")
        self.t = args.timeout
        self.token = uuid.uuid4().hex[:8]
        self.room = JID(f"interop-slix-{self.token}@{args.muc_domain}")
        self.users = [u.strip() for u in args.users.split(",") if u.strip()]
        self.clients = {}
        self.watch = {}
        self.nick = {}

    # --- helpers ---------------------------------------------------------

    def step(self, label, ok, detail=""):
        return self.r.step(label, ok, detail)

    def from_room(self, nick=None, ptype=None, kind=None):
        """Predicate: stanza from the room (nick None = any occupant JID or the room)."""
        room = self.room.bare

        def match(s):
            if kind and s.name != kind:
                return False
            if s["from"].bare != room:
                return False
            if nick is not None and s["from"].resource != nick:
                return False
            return ptype is None or s["type"] == ptype
        return match

    def occ(self, nick):
        return JID(f"{self.room.bare}/{nick}")

    async def join(self, who, nick, **kw):
        """join_muc_wait; returns (presence, subject, occupants, history) or raises."""
        return await self.clients[who]["xep_0045"].join_muc_wait(self.room, nick, timeout=self.t, **kw)

    async def join_refused(self, who, nick):
        """Join that the room must refuse: (error condition or what happened, how it was seen).

        join_muc_wait recognises an error only when the error presence carries
        <x xmlns='http://jabber.org/protocol/muc'/> (slixmpp 1.8.3 matches
        presence@type=error/muc_join), so the raw stream is watched as well.
        A join that succeeds is left again, so later steps see the room as planned."""
        c, w = self.clients[who], self.watch[who]
        mark = w.mark()
        join = asyncio.ensure_future(self.join(who, nick))
        raw = asyncio.ensure_future(w.wait(self.from_room(nick, "error", "presence"), self.t, mark))
        try:
            await asyncio.wait([join, raw], timeout=self.t, return_when=asyncio.FIRST_COMPLETED)
            if join.done() and not join.cancelled():
                e = join.exception()
                if e is None:
                    c["xep_0045"].leave_muc(self.room, nick)
                    await w.wait(self.from_room(nick, "unavailable", "presence"), self.t, mark)
                    return "joined!", ""
                if isinstance(e, PresenceError):
                    return e.condition, "join_muc_wait raised PresenceError"
            if raw.done() and raw.result() is not None:
                # The server's answer counts; the library's blind spot is a documented quirk.
                return error_condition(raw.result()), "seen on the stream; join_muc_wait missed it (no <x xmlns='muc'/> in the error)"
            return f"no answer within {self.t:g}s", ""
        finally:
            join.cancel()
            raw.cancel()
            c["xep_0045"].rooms.pop(self.room, None)

    # --- steps -------------------------------------------------------------

    async def connect(self):
        a = self.a
        everyone = [a.owner] + self.users
        for u in everyone:
            c, err = await login(a, u, resource=f"muc-{self.token}", roster=False, presence=True,
                                 before_connect=lambda cl: [cl.register_plugin(p) for p in ("xep_0045", "xep_0359", "xep_0004")])
            if not self.step(f"{u} logs in", c is not None, err or ""):
                return False
            self.clients[u] = c
            self.watch[u] = Watch(c)
        return True

    async def create(self):
        owner = self.a.owner
        c, w = self.clients[owner], self.watch[owner]
        self.nick[owner] = "Owner"
        # join_muc_wait also waits for the subject, which a locked room does not
        # send (XEP-0045 10.1.1): run it in the background, watch for the self-presence.
        mark = w.mark()
        task = asyncio.ensure_future(self.join(owner, "Owner"))
        p = await w.wait(lambda s: self.from_room("Owner", kind="presence")(s), self.t, mark)
        ok = p is not None and p["type"] != "error" and {110, 201} <= codes(p)
        self.step("create: owner's self-presence has 110 and 201 (room locked)", ok,
                  show(p) if p is not None else f"nothing within {self.t:g}s")
        it = item(p) if p is not None else {}
        self.step("create: owner has affiliation owner, role moderator",
                  it.get("affiliation") == "owner" and it.get("role") == "moderator", f"item {it}")
        if p is None or p["type"] == "error":
            task.cancel()
            return False
        # A locked room admits nobody else.
        cond, how = await self.join_refused(self.users[0], "Early")
        self.step("create: joining the locked room is refused with item-not-found", cond == "item-not-found", f"got {cond}; {how}")
        return task

    async def configure(self, join_task):
        owner = self.a.owner
        c = self.clients[owner]
        muc = c["xep_0045"]
        self.room_name = f"Interop slixmpp {self.token}"
        try:
            form = await muc.get_room_config(self.room, timeout=self.t)
            fields = form.get_fields()
            # A hidden field's value comes back as a list (slixmpp counts 'hidden' as multi-valued).
            ft = fields["FORM_TYPE"]["value"] if "FORM_TYPE" in fields else None
            ft = ft[0] if isinstance(ft, list) and len(ft) == 1 else ft
            want = {"muc#roomconfig_roomname", "muc#roomconfig_persistentroom", "muc#roomconfig_moderatedroom",
                    "muc#roomconfig_whois", "muc#roomconfig_membersonly"}
            self.step("config: get_room_config returns the muc#roomconfig form",
                      ft == ROOMCONFIG and want <= set(fields), f"FORM_TYPE {ft!r}, missing {sorted(want - set(fields))}")
            form.set_values({
                "muc#roomconfig_roomname": self.room_name,
                "muc#roomconfig_persistentroom": True,
                "muc#roomconfig_moderatedroom": False,
                "muc#roomconfig_whois": "anyone",
                "muc#roomconfig_membersonly": False,
                "muc#roomconfig_changesubject": False,
            })
            await muc.set_room_config(self.room, form, timeout=self.t)
            self.step("config: set_room_config accepted (room unlocked)", True)
        except (IqError, IqTimeout, ValueError, KeyError) as e:
            self.step("config: get_room_config / set_room_config", False, f"{type(e).__name__}: {e}")
            join_task.cancel()
            return False
        # A room that has no subject sends an empty one on join; for the
        # creator, it may come once the room is unlocked or never.
        try:
            await asyncio.wait_for(join_task, 2)
        except (asyncio.TimeoutError, asyncio.CancelledError, Exception):  # noqa: BLE001
            pass
        try:
            info = await c["xep_0030"].get_info(jid=self.room, timeout=self.t)
            idents = [i[3] for i in info["disco_info"]["identities"] if i[0] == "conference"]
            feats = set(info["disco_info"]["features"])
            want = {"http://jabber.org/protocol/muc", "muc_persistent", "muc_unmoderated", "muc_nonanonymous"}
            self.step("config: room disco#info shows the name, persistent, unmoderated, non-anonymous",
                      self.room_name in idents and want <= feats,
                      f"identities {idents}, missing features {sorted(want - feats)}")
        except (IqError, IqTimeout) as e:
            self.step("config: room disco#info", False, f"{type(e).__name__}: {e}")
        return True

    async def join_others(self):
        owner = self.a.owner
        b, cc = self.users[0], self.users[1]
        ok = True
        for who, nick, expect_present in ((b, "Bob", {"Owner"}), (cc, "Carol", {"Owner", "Bob"})):
            self.nick[who] = nick
            wo = self.watch[owner]
            mark = wo.mark()
            try:
                pres, subject, occupants, _hist = await self.join(who, nick)
            except (PresenceError, asyncio.TimeoutError) as e:
                self.step(f"join: {who} joins as {nick}", False, f"{type(e).__name__}: {getattr(e, 'condition', '')}")
                ok = False
                continue
            cs = codes(pres)
            self.step(f"join: {who}'s self-presence has 110 and 100 (non-anonymous room)", {110, 100} <= cs,
                      show(pres))
            muc_codes = pres["muc"]["status_codes"]
            self.step(f"join: slixmpp exposes the codes ({who}: pres['muc']['status_codes'])",
                      {110, 100} <= set(muc_codes), f"{muc_codes}")
            got = {o["from"].resource for o in occupants}
            self.step(f"join: {who} is told of the occupants already present {sorted(expect_present)}",
                      expect_present <= got, f"occupant presences from {sorted(got)}")
            roster = set(self.clients[who]["xep_0045"].get_roster(self.room))
            self.step(f"join: get_roster for {who}", roster == expect_present | {nick}, f"{sorted(roster)}")
            self.step(f"join: {who} gets the (empty) subject at the end of the join",
                      subject is not None and subject["from"].bare == self.room.bare, show(subject) if subject else "none")
            p = await wo.wait(self.from_room(nick, kind="presence"), self.t, mark)
            real = item(p).get("jid") if p is not None else None
            self.step(f"join: the owner sees {nick} join with the real JID (whois anyone)",
                      p is not None and p["type"] == "available" and real and JID(real).bare == f"{who}@{self.a.domain}",
                      show(p) if p is not None else f"nothing within {self.t:g}s")
        oroster = set(self.clients[owner]["xep_0045"].get_roster(self.room))
        self.step("join: the owner's get_roster lists all three", oroster == {"Owner", "Bob", "Carol"}, f"{sorted(oroster)}")
        return ok

    async def chat(self, sender, body, present):
        """sender says body; every user in present gets it from room/nick with a stanza-id by the room."""
        c = self.clients[sender]
        nick = self.nick[sender]
        marks = {u: self.watch[u].mark() for u in present}
        msg = c.make_message(mto=self.room, mbody=body, mtype="groupchat")
        msg["id"] = f"slix-{uuid.uuid4().hex[:10]}"
        sent_id = msg["id"]
        msg.send()
        ids = set()
        for u in present:
            m = await self.watch[u].wait(lambda s: s.name == "message" and s["body"] == body, self.t, marks[u])
            if m is None:
                self.step(f"chat: {u} receives {nick}'s message", False, f"nothing within {self.t:g}s")
                continue
            sids = stanza_ids(m)
            by_room = [i for i, by in sids if by == self.room.bare]
            ok = (m["type"] == "groupchat" and m["from"] == self.occ(nick) and len(by_room) == 1 and by_room[0])
            if u == sender:
                ok = ok and m["id"] == sent_id
            ids.update(by_room)
            self.step(f"chat: {u} receives {nick}'s message from room/{nick} with a stanza-id by the room"
                      + (" and its own id" if u == sender else ""), ok,
                      f"{show(m)} id={m['id']} stanza-ids={sids}")
        self.step(f"chat: every copy of {nick}'s message has the same stanza-id", len(ids) == 1, f"{sorted(ids)}")
        return ids.pop() if len(ids) == 1 else None

    async def subject(self, present):
        owner = self.a.owner
        self.topic = f"Lot {self.token} opens"
        marks = {u: self.watch[u].mark() for u in present}
        self.clients[owner]["xep_0045"].set_subject(self.room, self.topic)
        for u in present:
            m = await self.watch[u].wait(lambda s: s.name == "message" and s["subject"] == self.topic, self.t, marks[u])
            self.step(f"subject: {u} sees the new subject from room/Owner",
                      m is not None and m["from"] == self.occ("Owner") and m["type"] == "groupchat" and not m["body"],
                      show(m) if m is not None else f"nothing within {self.t:g}s")

    async def late_join(self, bodies, sids):
        d = self.users[2]
        self.nick[d] = "Dave"
        w = self.watch[d]
        mark = w.mark()
        try:
            pres, subject, occupants, hist = await self.join(d, "Dave", maxstanzas=20)
        except (PresenceError, asyncio.TimeoutError) as e:
            self.step(f"history: {d} joins late", False, f"{type(e).__name__}: {getattr(e, 'condition', '')}")
            return False
        got = [(h["from"].resource, h["body"]) for h in hist if h["body"] in bodies.values()]
        want = [(n, b) for n, b in bodies.items()]
        delays_ok = all(h.xml.find(q(NS_DELAY, "delay")) is not None and h.xml.find(q(NS_DELAY, "delay")).get("from") == self.room.bare
                        for h in hist)
        self.step(f"history: {d} gets both messages as history from the right nicks, in order",
                  got == want, f"got {got}, want {want}")
        self.step("history: every history message has <delay from='room'/>", hist and delays_ok,
                  f"{len(hist)} history messages")
        hist_ids = [next((i for i, by in stanza_ids(h) if by == self.room.bare), None) for h in hist if h["body"] in bodies.values()]
        self.step("history: the history copies carry the stanza-ids the live messages had", hist_ids == sids,
                  f"history {hist_ids}, live {sids}")
        # XEP-0045 7.2.3 order: occupants' presence, own presence (110), history, subject.
        seq = w.since(mark, self.from_room())
        kinds = []
        for st in seq:
            if st.name == "presence":
                kinds.append("self" if 110 in codes(st) else "occupant")
            elif st["subject"] and not st["body"]:
                kinds.append("subject")
            elif st["body"]:
                kinds.append("history")
        collapsed = [k for i, k in enumerate(kinds) if i == 0 or kinds[i - 1] != k]
        self.step("history: join order is occupants' presence, own presence, history, subject",
                  collapsed == ["occupant", "self", "history", "subject"], f"{kinds}")
        self.step("history: then the subject, from room/Owner",
                  subject is not None and subject["subject"] == self.topic and subject["from"] == self.occ("Owner"),
                  show(subject) if subject is not None else "none")
        occ_nicks = {o["from"].resource for o in occupants}
        self.step(f"history: {d} sees Owner, Bob, Carol present", {"Owner", "Bob", "Carol"} <= occ_nicks, f"{sorted(occ_nicks)}")
        return True

    async def nick_change(self, observers):
        cc = self.users[1]
        old, new = self.nick[cc], "Carol2"
        marks = {u: self.watch[u].mark() for u in observers + [cc]}
        self.clients[cc].send_presence(pto=self.occ(new))
        for u in observers + [cc]:
            w = self.watch[u]
            un = await w.wait(lambda s: self.from_room(old, "unavailable", "presence")(s), self.t, marks[u])
            av = await w.wait(lambda s: self.from_room(new, kind="presence")(s) and s["type"] != "unavailable", self.t, marks[u])
            order = un is not None and av is not None and w.stanzas.index(un) < w.stanzas.index(av)
            want = {303} | ({110} if u == cc else set())
            ok = un is not None and want <= codes(un) and item(un).get("nick") == new and order
            who = "C itself" if u == cc else u
            self.step(f"nick: {who} gets unavailable from {old} with {sorted(want)} and nick {new}, then presence from {new}",
                      ok and av["type"] != "error",
                      f"unavailable {show(un) if un is not None else None}; then {show(av) if av is not None else None}")
        roster = set(self.clients[observers[0]]["xep_0045"].get_roster(self.room))
        self.step(f"nick: get_roster for {observers[0]} shows {new}, not {old}", new in roster and old not in roster, f"{sorted(roster)}")
        self.nick[cc] = new

    async def kick(self, observers):
        owner, cc = self.a.owner, self.users[1]
        nick = self.nick[cc]
        marks = {u: self.watch[u].mark() for u in observers + [cc]}
        try:
            await self.clients[owner]["xep_0045"].set_role(self.room, nick, "none", reason="interop kick", timeout=self.t)
            self.step(f"kick: set_role({nick}, none) gets a result", True)
        except (IqError, IqTimeout) as e:
            self.step(f"kick: set_role({nick}, none)", False, f"{type(e).__name__}: {e}")
            return
        p = await self.watch[cc].wait(self.from_room(nick, "unavailable", "presence"), self.t, marks[cc])
        self.step("kick: the kicked user gets unavailable with 307 and 110, role none, the reason and <actor nick='Owner'/>",
                  p is not None and {307, 110} <= codes(p) and item(p).get("role") == "none" and item(p).get("reason") == "interop kick"
                  and item(p).get("actor") == "Owner",
                  show(p) if p is not None else f"nothing within {self.t:g}s")
        for u in observers:
            p = await self.watch[u].wait(self.from_room(nick, "unavailable", "presence"), self.t, marks[u])
            self.step(f"kick: {u} sees {nick} leave with 307",
                      p is not None and 307 in codes(p) and 110 not in codes(p),
                      show(p) if p is not None else f"nothing within {self.t:g}s")
        roster = set(self.clients[observers[0]]["xep_0045"].get_roster(self.room))
        self.step(f"kick: {nick} is gone from {observers[0]}'s get_roster", nick not in roster, f"{sorted(roster)}")
        # The kicked user is out: its groupchat is refused.
        w = self.watch[cc]
        mark = w.mark()
        m = self.clients[cc].make_message(mto=self.room, mbody="still here?", mtype="groupchat")
        m.send()
        e = await w.wait(lambda s: s.name == "message" and s["type"] == "error" and s["from"].bare == self.room.bare, self.t, mark)
        self.step("kick: the kicked user's groupchat is refused with not-acceptable",
                  e is not None and error_condition(e) == "not-acceptable", show(e) if e is not None else "no error")

    async def ban(self, observers):
        owner, d = self.a.owner, self.users[2]
        nick = self.nick[d]
        marks = {u: self.watch[u].mark() for u in observers + [d]}
        djid = JID(f"{d}@{self.a.domain}")
        muc = self.clients[owner]["xep_0045"]
        try:
            await muc.set_affiliation(self.room, "outcast", jid=djid, reason="interop ban", timeout=self.t)
            self.step(f"ban: set_affiliation({d}, outcast) gets a result", True)
        except (IqError, IqTimeout, ValueError) as e:
            self.step(f"ban: set_affiliation({d}, outcast)", False, f"{type(e).__name__}: {e}")
            return
        p = await self.watch[d].wait(self.from_room(nick, "unavailable", "presence"), self.t, marks[d])
        self.step("ban: the banned user gets unavailable with 301 and 110, affiliation outcast",
                  p is not None and {301, 110} <= codes(p) and item(p).get("affiliation") == "outcast",
                  show(p) if p is not None else f"nothing within {self.t:g}s")
        for u in observers:
            p = await self.watch[u].wait(self.from_room(nick, "unavailable", "presence"), self.t, marks[u])
            self.step(f"ban: {u} sees {nick} removed with 301",
                      p is not None and 301 in codes(p) and item(p).get("affiliation") == "outcast",
                      show(p) if p is not None else f"nothing within {self.t:g}s")
        try:
            outcasts = await muc.get_affiliation_list(self.room, "outcast", timeout=self.t)
            self.step("ban: get_affiliation_list(outcast) lists the banned user",
                      [JID(j).bare for j in outcasts] == [djid.bare], f"{outcasts}")
        except (IqError, IqTimeout) as e:
            self.step("ban: get_affiliation_list(outcast)", False, f"{type(e).__name__}: {e}")
        cond, how = await self.join_refused(d, "Dave")
        self.step("ban: the banned user cannot rejoin: forbidden", cond == "forbidden", f"got {cond}; {how}")

    async def members_only(self, present):
        owner, b, cc = self.a.owner, self.users[0], self.users[1]
        muc = self.clients[owner]["xep_0045"]
        bjid = JID(f"{b}@{self.a.domain}")
        marks = {u: self.watch[u].mark() for u in present}
        try:
            await muc.set_affiliation(self.room, "member", jid=bjid, timeout=self.t)
            self.step(f"members: set_affiliation({b}, member) gets a result", True)
        except (IqError, IqTimeout) as e:
            self.step(f"members: set_affiliation({b}, member)", False, f"{type(e).__name__}: {e}")
            return
        for u in present:
            p = await self.watch[u].wait(lambda s: self.from_room(self.nick[b], kind="presence")(s)
                                         and item(s).get("affiliation") == "member", self.t, marks[u])
            self.step(f"members: {u} sees {self.nick[b]}'s affiliation member",
                      p is not None and p["type"] != "unavailable", show(p) if p is not None else f"nothing within {self.t:g}s")
        try:
            members = await muc.get_affiliation_list(self.room, "member", timeout=self.t)
            self.step("members: get_affiliation_list(member) lists B", [JID(j).bare for j in members] == [bjid.bare], f"{members}")
        except (IqError, IqTimeout) as e:
            self.step("members: get_affiliation_list(member)", False, f"{type(e).__name__}: {e}")
        marks = {u: self.watch[u].mark() for u in present}
        try:
            form = await muc.get_room_config(self.room, timeout=self.t)
            form.set_values({"muc#roomconfig_membersonly": True})
            await muc.set_room_config(self.room, form, timeout=self.t)
            self.step("members: members-only switched on by set_room_config", True)
        except (IqError, IqTimeout, ValueError) as e:
            self.step("members: members-only switched on", False, f"{type(e).__name__}: {e}")
            return
        for u in present:
            m = await self.watch[u].wait(lambda s: s.name == "message" and s["from"] == JID(self.room.bare)
                                         and 104 in codes(s), self.t, marks[u])
            self.step(f"members: {u} gets the 104 configuration-change notice", m is not None,
                      show(m) if m is not None else f"nothing within {self.t:g}s")
        cond, how = await self.join_refused(cc, "Carol")
        self.step("members: a non-member's join is refused with registration-required",
                  cond == "registration-required", f"got {cond}; {how}")

    async def destroy(self, present):
        owner = self.a.owner
        muc = self.clients[owner]["xep_0045"]
        marks = {u: self.watch[u].mark() for u in present}
        try:
            await muc.destroy(self.room, reason="interop over", timeout=self.t)
            self.step("destroy: destroy() gets a result", True)
        except (IqError, IqTimeout) as e:
            self.step("destroy: destroy()", False, f"{type(e).__name__}: {e}")
            return False
        for u in present:
            p = await self.watch[u].wait(lambda s: self.from_room(self.nick[u], "unavailable", "presence")(s), self.t, marks[u])
            x = p.xml.find(q(NS_MUC_USER, "x")) if p is not None else None
            de = x.find(q(NS_MUC_USER, "destroy")) if x is not None else None
            reason = de.find(q(NS_MUC_USER, "reason")) if de is not None else None
            self.step(f"destroy: {u} gets unavailable with <destroy><reason>interop over</reason>",
                      reason is not None and reason.text == "interop over",
                      show(p) if p is not None else f"nothing within {self.t:g}s")
        try:
            await self.clients[owner]["xep_0030"].get_info(jid=self.room, timeout=self.t)
            self.step("destroy: the room is gone", False, "disco#info still answers")
        except IqError as e:
            # Gavel forgets the room (item-not-found); Prosody keeps a tombstone (gone).
            self.step("destroy: the room is gone (disco#info item-not-found or gone)",
                      e.condition in ("item-not-found", "gone"), e.condition)
        except IqTimeout:
            self.step("destroy: the room is gone", False, "disco#info timed out")
        return True

    async def run(self):
        a = self.a
        if len(self.users) < 3:
            self.step("arguments", False, "--users needs three accounts")
            return
        if not await self.connect():
            return
        owner, b, cc, d = a.owner, self.users[0], self.users[1], self.users[2]
        destroyed = False
        try:
            task = await self.create()
            if not task or not await self.configure(task):
                return
            if not await self.join_others():
                return
            present = [owner, b, cc]
            bodies = {}
            sids = []
            for who, body in ((owner, f"Welcome {self.token}"), (b, f"Hello from Bob {self.token}")):
                sids.append(await self.chat(who, body, present))
                bodies[self.nick[who]] = body
            await self.subject(present)
            if await self.late_join(bodies, sids):
                present.append(d)
            await self.nick_change([owner, b])
            await self.kick([owner, b, d])
            await self.ban([owner, b])
            await self.members_only([owner, b])
            destroyed = await self.destroy([owner, b])
        finally:
            if not destroyed and owner in self.clients:
                try:
                    await self.clients[owner]["xep_0045"].destroy(self.room, reason="cleanup", timeout=self.t)
                except Exception:  # noqa: BLE001 - best effort
                    pass


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--muc-domain", default=None, help="MUC service (default conference.<domain>)")
    p.add_argument("--owner", default="alice")
    p.add_argument("--users", default="bob,carol,dave", help="three accounts: B, C (kicked), D (late joiner, banned)")
    args = p.parse_args()
    args.muc_domain = args.muc_domain or f"conference.{args.domain}"
    setup_logging(args)
    t = MUC(args)
    try:
        await t.run()
    except Exception as e:  # noqa: BLE001 - report, do not hang
        t.step("unexpected exception", False, f"{type(e).__name__}: {e}")
    await close_all(list(t.clients.values()))
    return t.r.finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
