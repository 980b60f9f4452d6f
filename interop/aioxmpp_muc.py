#!/usr/bin/python3
"""Interop: aioxmpp's Multi-User Chat client (Debian python3-aioxmpp, aioxmpp.muc.MUCClient)
against an XMPP server's XEP-0045 service, plus one slixmpp client in the same room.

    aioxmpp_muc.py --host 127.0.0.1 --port 5222 --domain localhost --password secret \
        [--muc-domain conference.localhost] [--owner alice --users bob,carol,dave --slix-user eve] \
        [--timeout 10] [-v]

The owner, the three users and the slixmpp user must exist with the given
password. The room is new on every run (interop-aio-<random>@<muc-domain>).
Everything is asserted on what aioxmpp's Room signals (on_muc_enter, on_join,
on_message, on_topic_changed, on_nick_changed, on_leave, on_exit,
on_muc_affiliation_changed) and attributes (members, muc_subject) report, and
the stanzas behind them where the library hides a detail. Steps:
  create:   MUCClient.join of a new room: on_muc_enter with 110 and 201, owner
            and moderator; another user's join fails with item-not-found
  config:   get_room_config + ConfigurationForm (room name, persistent,
            moderated off, whois anyone) + set_room_config; disco#info shows them
  join:     B and C join: on_muc_enter with 110 and 100, Room.members; the
            owner's on_join with the real JID
  chat:     send_message_tracked by the owner: the tracker reaches
            DELIVERED_TO_RECIPIENT with the reflection; B's send_message; every
            occupant's on_message from the right member with one XEP-0359
            stanza-id by the room
  cross:    a slixmpp client (xep_0045) joins: aioxmpp's on_join; aioxmpp's
            message reaches slixmpp and slixmpp's reaches aioxmpp (on_message,
            member nick); slixmpp leaves: on_leave
  subject:  set_topic: on_topic_changed with the owner's nick everywhere
  history:  D joins late (History maxstanzas 20): on_message for both messages
            with <delay from='room'/> in order, then on_topic_changed
  nick:     C's set_nick: on_nick_changed (old, new) at the others and C, the
            303 presence before the new one
  kick:     Room.kick: C's on_exit KICKED with 307 + 110 and the reason; others'
            on_leave KICKED; C is no longer joined and its groupchat is refused
  ban:      Room.ban: D's on_exit BANNED with 301 + 110; others' on_leave BANNED;
            get_affiliated(outcast) has D; D's rejoin fails with forbidden
  members:  muc_set_affiliation(B, member): on_muc_affiliation_changed at the
            owner and B; get_affiliated(member) has B; members-only on through
            ConfigurationForm: 104 to occupants; C's join fails with
            registration-required
  destroy:  <destroy/> with a reason (raw IQ: aioxmpp has no destroy call): the
            owner and B get on_exit, the presence carries <destroy><reason/>;
            disco#info of the room then answers item-not-found
Exit status 0 only when every step passed. -v writes the protocol traces to stderr.
"""
import argparse
import asyncio
import contextlib
import functools
import logging
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from xmpptest import JID, Report, add_common_args, close_all, login, setup_logging  # re-execs /usr/bin/python3

try:
    import aioxmpp
    import aioxmpp.connector
    import aioxmpp.disco
    import aioxmpp.errors
    import aioxmpp.misc  # noqa: F401 - registers Message.xep0359_stanza_ids
    import aioxmpp.muc
    import aioxmpp.muc.xso as muc_xso
    import aioxmpp.tracking
except ImportError:
    sys.exit("aioxmpp is not importable: apt-get install -y python3-aioxmpp, run with /usr/bin/python3")

LeaveMode = aioxmpp.muc.LeaveMode
SIGNALS = ("on_muc_enter", "on_enter", "on_message", "on_join", "on_leave", "on_presence_changed",
           "on_nick_changed", "on_topic_changed", "on_exit", "on_muc_affiliation_changed", "on_muc_role_changed")


def codes(stanza):
    x = stanza.xep0045_muc_user if stanza is not None else None
    return {int(c) for c in x.status_codes} if x is not None else set()


def body(msg):
    return msg.body.any() if msg.body else None


class Recorder:
    """Every Room signal and every inbound message/presence of one aioxmpp client, in order.

    Raw stanzas come from the stream's app_inbound filters (they run before
    aioxmpp's own dispatch), events from the Room signals as ('signal', name,
    args, kwargs)."""

    def __init__(self, client):
        self.events = []
        self.changed = asyncio.Event()
        client.stream.app_inbound_message_filter.register(self._stanza, 0)
        client.stream.app_inbound_presence_filter.register(self._stanza, 0)

    def _bump(self):
        self.changed.set()
        self.changed = asyncio.Event()

    def _stanza(self, stanza):
        self.events.append(("stanza", stanza))
        self._bump()
        return stanza

    def _signal(self, name, *args, **kwargs):
        self.events.append(("signal", name, args, kwargs))
        self._bump()
        # a true return value would disconnect the handler (aioxmpp AdHocSignal)

    def hook(self, room):
        for name in SIGNALS:
            getattr(room, name).connect(functools.partial(self._signal, name))

    def mark(self):
        return len(self.events)

    def index(self, ev):
        return next(i for i, e in enumerate(self.events) if e is ev)

    async def wait(self, pred, timeout, mark=0):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        i = mark
        while True:
            while i < len(self.events):
                try:
                    if pred(self.events[i]):
                        return self.events[i]
                except (AttributeError, IndexError, KeyError, TypeError):
                    pass
                i += 1
            left = deadline - loop.time()
            if left <= 0:
                return None
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except asyncio.TimeoutError:
                pass

    async def signal(self, name, timeout, mark=0, pred=lambda args, kw: True):
        return await self.wait(lambda e: e[0] == "signal" and e[1] == name and pred(e[2], e[3]), timeout, mark)


def sig(name):
    return lambda e: e[0] == "signal" and e[1] == name


class AioMUC:
    def __init__(self, args):
        self.a = args
        self.r = Report("aioxmpp_muc")
        self.t = args.timeout
        self.token = uuid.uuid4().hex[:8]
        self.room = aioxmpp.JID.fromstr(f"interop-aio-{self.token}@{args.muc_domain}")
        self.users = [u.strip() for u in args.users.split(",") if u.strip()]
        self.clients = {}   # user -> aioxmpp.Client
        self.mucs = {}      # user -> MUCClient
        self.rooms = {}     # user -> Room
        self.rec = {}       # user -> Recorder
        self.nick = {}
        self.slix = None

    def step(self, label, ok, detail=""):
        return self.r.step(label, ok, detail)

    def bare(self, user):
        return aioxmpp.JID.fromstr(f"{user}@{self.a.domain}")

    def client(self, user):
        jid = aioxmpp.JID.fromstr(f"{user}@{self.a.domain}/aio-muc-{self.token}")
        return aioxmpp.Client(jid, aioxmpp.make_security_layer(self.a.password, no_verify=True),
                              override_peer=[(self.a.host, self.a.port, aioxmpp.connector.STARTTLSConnector())],
                              logger=logging.getLogger(f"aioxmpp.{user}"))

    def member(self, user, nick):
        """The Occupant for nick in user's Room.members, or None."""
        for m in self.rooms[user].members:
            if m.nick == nick:
                return m
        return None

    async def join(self, user, nick, history=None):
        """MUCClient.join; returns (room, None) or (None, error-condition)."""
        self.nick[user] = nick
        room, fut = self.mucs[user].join(self.room, nick, history=history, autorejoin=False)
        self.rec[user].hook(room)  # no signal is emitted before the next yield (aioxmpp guarantees it)
        try:
            await asyncio.wait_for(fut, self.t)
        except asyncio.TimeoutError:
            return None, f"no answer within {self.t:g}s"
        except aioxmpp.errors.XMPPError as e:
            return None, e.condition.value[1] if hasattr(e.condition, "value") else str(e.condition)
        self.rooms[user] = room
        return room, None

    # --- steps ---------------------------------------------------------------

    async def create(self):
        owner = self.a.owner
        rec = self.rec[owner]
        mark = rec.mark()
        room, err = await self.join(owner, "Owner")
        if not self.step("create: MUCClient.join of a new room completes", room is not None, err or ""):
            return False
        ev = await rec.signal("on_muc_enter", self.t, mark)
        cs = {int(c) for c in ev[3].get("muc_status_codes", ())} if ev else set()
        self.step("create: on_muc_enter has 110 and 201 (room locked)", {110, 201} <= cs, f"codes {sorted(cs)}")
        me = room.me
        self.step("create: Room.me is owner and moderator", me is not None and me.affiliation == "owner" and me.role == "moderator",
                  f"{me.affiliation if me else None}/{me.role if me else None}")
        room2, err = await self.join(self.users[0], "Early")
        self.step("create: joining the locked room fails with item-not-found", err == "item-not-found",
                  "joined!" if room2 is not None else err)
        if room2 is not None:  # leave again, so later steps see the room as planned
            with contextlib.suppress(Exception):
                await asyncio.wait_for(room2.leave(), self.t)
        return True

    async def configure(self):
        owner = self.a.owner
        muc = self.mucs[owner]
        self.room_name = f"Interop aioxmpp {self.token}"
        try:
            data = await asyncio.wait_for(muc.get_room_config(self.room), self.t)
            form = aioxmpp.muc.ConfigurationForm.from_xso(data)
            self.step("config: get_room_config returns the muc#roomconfig form",
                      data.get_form_type() == aioxmpp.muc.ConfigurationForm.FORM_TYPE, f"{data.get_form_type()}")
            form.roomname.value = self.room_name
            form.persistentroom.value = True
            form.moderatedroom.value = False
            form.whois.value = "anyone"
            form.membersonly.value = False
            form.changesubject.value = False
            await asyncio.wait_for(muc.set_room_config(self.room, form.render_reply()), self.t)
            self.step("config: set_room_config accepted (room unlocked)", True)
        except (aioxmpp.errors.XMPPError, asyncio.TimeoutError, ValueError, AttributeError) as e:
            self.step("config: get_room_config / set_room_config", False, f"{type(e).__name__}: {e}")
            return False
        try:
            disco = self.clients[owner].summon(aioxmpp.disco.DiscoClient)
            info = await asyncio.wait_for(disco.query_info(self.room, require_fresh=True), self.t)
            names = [i.name for i in info.identities if i.category == "conference"]
            want = {"http://jabber.org/protocol/muc", "muc_persistent", "muc_unmoderated", "muc_nonanonymous"}
            self.step("config: room disco#info shows the name, persistent, unmoderated, non-anonymous",
                      self.room_name in names and want <= set(info.features),
                      f"names {names}, missing {sorted(want - set(info.features))}")
        except (aioxmpp.errors.XMPPError, asyncio.TimeoutError) as e:
            self.step("config: room disco#info", False, f"{type(e).__name__}: {e}")
        return True

    async def join_others(self):
        owner = self.a.owner
        ok = True
        for user, nick, before in ((self.users[0], "Bob", {"Owner"}), (self.users[1], "Carol", {"Owner", "Bob"})):
            mark_o = self.rec[owner].mark()
            mark = self.rec[user].mark()
            room, err = await self.join(user, nick)
            if not self.step(f"join: {user} joins as {nick}", room is not None, err or ""):
                ok = False
                continue
            ev = await self.rec[user].signal("on_muc_enter", self.t, mark)
            cs = {int(c) for c in ev[3].get("muc_status_codes", ())} if ev else set()
            self.step(f"join: {user}'s on_muc_enter has 110 and 100 (non-anonymous)", {110, 100} <= cs, f"codes {sorted(cs)}")
            nicks = {m.nick for m in room.members}
            self.step(f"join: {user}'s Room.members", nicks == before | {nick}, f"{sorted(nicks)}")
            ev = await self.rec[owner].signal("on_join", self.t, mark_o, lambda a, kw: a[0].nick == nick)
            m = ev[2][0] if ev else None
            self.step(f"join: the owner's on_join for {nick} with the real JID",
                      m is not None and m.direct_jid == self.bare(user), f"direct_jid {m.direct_jid if m else None}")
        nicks = {m.nick for m in self.rooms[owner].members}
        self.step("join: the owner's Room.members lists all three", nicks == {"Owner", "Bob", "Carol"}, f"{sorted(nicks)}")
        return ok

    def check_copy(self, user, sender_nick, text, ev):
        """A recorded on_message: from sender_nick, one stanza-id by the room."""
        if ev is None:
            return self.step(f"chat: {user} gets on_message for {sender_nick}'s message", False, f"nothing within {self.t:g}s")
        msg, member = ev[2][0], ev[2][1]
        sids = [(s.id_, s.by) for s in msg.xep0359_stanza_ids]
        by_room = [i for i, by in sids if by == self.room]
        ok = (msg.type_ == aioxmpp.MessageType.GROUPCHAT and member is not None and member.nick == sender_nick
              and msg.from_ == self.room.replace(resource=sender_nick) and len(by_room) == 1)
        self.step(f"chat: {user} gets on_message for {sender_nick}'s message, member {sender_nick}, one stanza-id by the room",
                  ok, f"from {msg.from_}, member {member.nick if member else None}, stanza-ids {sids}")
        return by_room[0] if len(by_room) == 1 else None

    async def chat(self, present):
        owner, b = self.a.owner, self.users[0]
        self.bodies = {}
        # The owner sends with tracking: aioxmpp matches the reflection by id.
        text = f"Welcome {self.token}"
        self.bodies["Owner"] = text
        marks = {u: self.rec[u].mark() for u in present}
        msg = aioxmpp.Message(type_=aioxmpp.MessageType.GROUPCHAT)
        msg.body[None] = text
        _token, tracker = self.rooms[owner].send_message_tracked(msg)
        done = asyncio.get_running_loop().create_future()
        tracker.on_state_changed.connect(lambda state, *_: (done.done() or state != aioxmpp.tracking.MessageState.DELIVERED_TO_RECIPIENT
                                                            or done.set_result(state)) and None)
        if tracker.state == aioxmpp.tracking.MessageState.DELIVERED_TO_RECIPIENT and not done.done():
            done.set_result(tracker.state)
        try:
            await asyncio.wait_for(done, self.t)
            refl = tracker.response
            sids = [(s.id_, s.by) for s in refl.xep0359_stanza_ids] if refl is not None else []
            self.step("chat: the owner's tracked message reaches DELIVERED_TO_RECIPIENT with the reflection (stanza-id by the room)",
                      refl is not None and body(refl) == text and any(by == self.room for _i, by in sids), f"stanza-ids {sids}")
        except asyncio.TimeoutError:
            self.step("chat: the owner's tracked message is reflected", False, f"tracker state {tracker.state}")
        ids = set()
        for u in present:
            if u == owner:
                continue
            ev = await self.rec[u].signal("on_message", self.t, marks[u], lambda a, kw: body(a[0]) == text)
            ids.add(self.check_copy(u, "Owner", text, ev))
        # B sends untracked: B's own on_message gets the reflection.
        text = f"Hello from Bob {self.token}"
        self.bodies["Bob"] = text
        marks = {u: self.rec[u].mark() for u in present}
        msg = aioxmpp.Message(type_=aioxmpp.MessageType.GROUPCHAT)
        msg.body[None] = text
        self.rooms[b].send_message(msg)
        ids2 = set()
        for u in present:
            ev = await self.rec[u].signal("on_message", self.t, marks[u], lambda a, kw: body(a[0]) == text)
            ids2.add(self.check_copy(u, "Bob", text, ev))
        self.step("chat: every copy of a message carries the same stanza-id",
                  len(ids) == 1 and None not in ids and len(ids2) == 1 and None not in ids2, f"{ids} {ids2}")
        self.sids = [next(iter(ids)) if len(ids) == 1 else None, next(iter(ids2)) if len(ids2) == 1 else None]

    async def cross(self, present):
        owner, b = self.a.owner, self.users[0]
        su = self.a.slix_user
        marks = {u: self.rec[u].mark() for u in present}
        c, err = await login(self.a, su, resource=f"muc-{self.token}", roster=False, presence=True,
                             before_connect=lambda cl: [cl.register_plugin(p) for p in ("xep_0045", "xep_0359")])
        if not self.step(f"cross: {su} logs in (slixmpp)", c is not None, err or ""):
            return
        self.slix = c
        import slixmpp.plugins.xep_0045.muc as slix_muc
        slix_muc.print = lambda *a, **_k: None  # slixmpp 1.8.3's join_muc_wait print()s each <delay/>
        room = JID(str(self.room))
        got = []
        c.add_event_handler("groupchat_message", lambda m: got.append(m))
        try:
            await c["xep_0045"].join_muc_wait(room, "Eve", maxstanzas=0, timeout=self.t)
            self.step(f"cross: {su} (slixmpp) joins the aioxmpp-made room", True)
        except Exception as e:  # noqa: BLE001
            self.step(f"cross: {su} (slixmpp) joins", False, f"{type(e).__name__}: {getattr(e, 'condition', e)}")
            return
        for u in present:
            ev = await self.rec[u].signal("on_join", self.t, marks[u], lambda a, kw: a[0].nick == "Eve")
            self.step(f"cross: {u}'s aioxmpp on_join for the slixmpp occupant", ev is not None)
        text = f"aioxmpp to slixmpp {self.token}"
        msg = aioxmpp.Message(type_=aioxmpp.MessageType.GROUPCHAT)
        msg.body[None] = text
        self.rooms[owner].send_message(msg)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.t
        while loop.time() < deadline and not any(m["body"] == text for m in got):
            await asyncio.sleep(0.05)
        m = next((m for m in got if m["body"] == text), None)
        self.step("cross: slixmpp receives aioxmpp's message from room/Owner",
                  m is not None and m["from"] == JID(f"{room}/Owner") and m["stanza_id"]["by"] == room.bare,
                  f"{m['from']} stanza-id by {m['stanza_id']['by']}" if m is not None else "nothing")
        marks = {u: self.rec[u].mark() for u in present}
        text = f"slixmpp to aioxmpp {self.token}"
        c.send_message(mto=room, mbody=text, mtype="groupchat")
        for u in present:
            ev = await self.rec[u].signal("on_message", self.t, marks[u], lambda a, kw: body(a[0]) == text)
            self.step(f"cross: aioxmpp {u} gets slixmpp's message, member Eve",
                      ev is not None and ev[2][1] is not None and ev[2][1].nick == "Eve" and
                      any(s.by == self.room for s in ev[2][0].xep0359_stanza_ids),
                      f"member {ev[2][1].nick if ev and ev[2][1] else None}" if ev else "nothing")
        marks = {u: self.rec[u].mark() for u in present}
        c["xep_0045"].leave_muc(room, "Eve")
        for u in present:
            ev = await self.rec[u].signal("on_leave", self.t, marks[u], lambda a, kw: a[0].nick == "Eve")
            self.step(f"cross: {u}'s on_leave for the slixmpp occupant (normal leave)",
                      ev is not None and ev[3].get("muc_leave_mode") == LeaveMode.NORMAL,
                      f"mode {ev[3].get('muc_leave_mode')}" if ev else "nothing")

    async def subject(self, present):
        owner = self.a.owner
        self.topic = f"Lot {self.token} opens"
        marks = {u: self.rec[u].mark() for u in present}
        await self.rooms[owner].set_topic({None: self.topic})
        for u in present:
            ev = await self.rec[u].signal("on_topic_changed", self.t, marks[u], lambda a, kw: a[1].any() == self.topic)
            self.step(f"subject: {u}'s on_topic_changed with the owner's nick",
                      ev is not None and ev[3].get("muc_nick") == "Owner" and self.rooms[u].muc_subject.any() == self.topic,
                      f"muc_nick {ev[3].get('muc_nick')}" if ev else "nothing")

    async def late_join(self):
        d = self.users[2]
        mark = self.rec[d].mark()
        room, err = await self.join(d, "Dave", history=muc_xso.History(maxstanzas=20))
        if not self.step(f"history: {d} joins late", room is not None, err or ""):
            return False
        ev = await self.rec[d].signal("on_topic_changed", self.t, mark)
        self.step("history: on_topic_changed with the subject, from the owner's nick",
                  ev is not None and ev[2][1].any() == self.topic and ev[3].get("muc_nick") == "Owner",
                  f"{ev[2][1].any()} by {ev[3].get('muc_nick')}" if ev else "nothing")
        upto = self.rec[d].index(ev) if ev else len(self.rec[d].events)
        hist = [e for e in self.rec[d].events[mark:upto] if sig("on_message")(e)]
        got = [(e[2][1].nick if e[2][1] else None, body(e[2][0])) for e in hist if body(e[2][0]) in self.bodies.values()]
        self.step(f"history: {d}'s on_message replays both messages from the right members, in order, before the subject",
                  got == list(self.bodies.items()), f"got {got}")
        hist_ids = [next((s.id_ for s in e[2][0].xep0359_stanza_ids if s.by == self.room), None)
                    for e in hist if body(e[2][0]) in self.bodies.values()]
        self.step("history: the replayed messages carry the stanza-ids the live ones had", hist_ids == self.sids,
                  f"history {hist_ids}, live {self.sids}")
        delays = [e[2][0].xep0203_delay for e in hist]
        self.step("history: every replayed message has <delay from='room'/>",
                  hist and all(dl and dl[0].from_ == self.room for dl in delays), f"{len(hist)} messages")
        nicks = {m.nick for m in room.members}
        self.step(f"history: {d}'s Room.members", nicks == {"Owner", "Bob", "Carol", "Dave"}, f"{sorted(nicks)}")
        return True

    async def nick_change(self, observers):
        cc = self.users[1]
        marks = {u: self.rec[u].mark() for u in observers + [cc]}
        await self.rooms[cc].set_nick("Carol2")
        for u in observers + [cc]:
            rec = self.rec[u]
            ev = await rec.signal("on_nick_changed", self.t, marks[u], lambda a, kw: a[1] == "Carol" and a[2] == "Carol2")
            un = await rec.wait(lambda e: e[0] == "stanza" and e[1].from_ == self.room.replace(resource="Carol")
                                and 303 in codes(e[1]), self.t, marks[u])
            av = await rec.wait(lambda e: e[0] == "stanza" and e[1].from_ == self.room.replace(resource="Carol2")
                                and e[1].type_ == aioxmpp.PresenceType.AVAILABLE, self.t, marks[u])
            order = un is not None and av is not None and rec.index(un) < rec.index(av)
            who = "C itself" if u == cc else u
            self.step(f"nick: {who} gets on_nick_changed(Carol -> Carol2); the 303 presence came before the new one",
                      ev is not None and order and (u != cc or 110 in codes(un[1])),
                      f"event {'yes' if ev else 'no'}, order {order}")
        nicks = {m.nick for m in self.rooms[observers[0]].members}
        self.step(f"nick: {observers[0]}'s Room.members has Carol2, not Carol",
                  "Carol2" in nicks and "Carol" not in nicks, f"{sorted(nicks)}")
        self.nick[cc] = "Carol2"

    async def kick(self, observers):
        owner, cc = self.a.owner, self.users[1]
        target = self.member(owner, "Carol2")
        if not self.step("kick: the owner's Room.members has Carol2", target is not None):
            return
        marks = {u: self.rec[u].mark() for u in observers + [cc]}
        try:
            await asyncio.wait_for(self.rooms[owner].kick(target, "interop kick"), self.t)
            self.step("kick: Room.kick completes", True)
        except (aioxmpp.errors.XMPPError, asyncio.TimeoutError) as e:
            self.step("kick: Room.kick", False, f"{type(e).__name__}: {e}")
            return
        ev = await self.rec[cc].signal("on_exit", self.t, marks[cc])
        kw = ev[3] if ev else {}
        cs = {int(c) for c in kw.get("muc_status_codes", ())}
        actor = kw.get("muc_actor")
        self.step("kick: the kicked user's on_exit: KICKED, 307 and 110, the reason, actor Owner",
                  ev is not None and kw.get("muc_leave_mode") == LeaveMode.KICKED and {307, 110} <= cs
                  and kw.get("muc_reason") == "interop kick" and actor is not None and actor.nick == "Owner",
                  f"mode {kw.get('muc_leave_mode')}, codes {sorted(cs)}, reason {kw.get('muc_reason')!r}, "
                  f"actor {actor.nick if actor is not None else None}")
        self.step("kick: the kicked user's Room is no longer joined", not self.rooms[cc].muc_joined)
        for u in observers:
            ev = await self.rec[u].signal("on_leave", self.t, marks[u], lambda a, kw: a[0].nick == "Carol2")
            kw = ev[3] if ev else {}
            self.step(f"kick: {u}'s on_leave for Carol2: KICKED",
                      ev is not None and kw.get("muc_leave_mode") == LeaveMode.KICKED
                      and 307 in {int(c) for c in kw.get("muc_status_codes", ())},
                      f"mode {kw.get('muc_leave_mode')}" if ev else "nothing")
        mark = self.rec[cc].mark()
        msg = aioxmpp.Message(type_=aioxmpp.MessageType.GROUPCHAT, to=self.room)
        msg.body[None] = "still here?"
        self.clients[cc].enqueue(msg)
        e = await self.rec[cc].wait(lambda e: e[0] == "stanza" and isinstance(e[1], aioxmpp.Message)
                                    and e[1].type_ == aioxmpp.MessageType.ERROR, self.t, mark)
        cond = e[1].error.condition if e else None
        self.step("kick: the kicked user's groupchat is refused with not-acceptable",
                  cond == aioxmpp.ErrorCondition.NOT_ACCEPTABLE, f"{cond}")

    async def ban(self, observers):
        owner, d = self.a.owner, self.users[2]
        target = self.member(owner, "Dave")
        if not self.step("ban: the owner's Room.members has Dave with his JID", target is not None and target.direct_jid == self.bare(d)):
            return
        marks = {u: self.rec[u].mark() for u in observers + [d]}
        try:
            await asyncio.wait_for(self.rooms[owner].ban(target, "interop ban"), self.t)
            self.step("ban: Room.ban completes", True)
        except (aioxmpp.errors.XMPPError, asyncio.TimeoutError, ValueError) as e:
            self.step("ban: Room.ban", False, f"{type(e).__name__}: {e}")
            return
        ev = await self.rec[d].signal("on_exit", self.t, marks[d])
        kw = ev[3] if ev else {}
        cs = {int(c) for c in kw.get("muc_status_codes", ())}
        self.step("ban: the banned user's on_exit: BANNED, 301 and 110, the reason",
                  ev is not None and kw.get("muc_leave_mode") == LeaveMode.BANNED and {301, 110} <= cs
                  and kw.get("muc_reason") == "interop ban",
                  f"mode {kw.get('muc_leave_mode')}, codes {sorted(cs)}, reason {kw.get('muc_reason')!r}")
        for u in observers:
            ev = await self.rec[u].signal("on_leave", self.t, marks[u], lambda a, kw: a[0].nick == "Dave")
            kw = ev[3] if ev else {}
            self.step(f"ban: {u}'s on_leave for Dave: BANNED, affiliation outcast",
                      ev is not None and kw.get("muc_leave_mode") == LeaveMode.BANNED and ev[2][0].affiliation == "outcast",
                      f"mode {kw.get('muc_leave_mode')}, affiliation {ev[2][0].affiliation}" if ev else "nothing")
        try:
            outcasts = await asyncio.wait_for(self.mucs[owner].get_affiliated(self.room, "outcast"), self.t)
            self.step("ban: get_affiliated(outcast) lists the banned user", [j.bare() for j in outcasts] == [self.bare(d)], f"{outcasts}")
        except (aioxmpp.errors.XMPPError, asyncio.TimeoutError) as e:
            self.step("ban: get_affiliated(outcast)", False, f"{type(e).__name__}: {e}")
        room, err = await self.join(d, "Dave")
        self.step("ban: the banned user cannot rejoin: forbidden", err == "forbidden", "joined!" if room else err)

    async def members_only(self, present):
        owner, b, cc = self.a.owner, self.users[0], self.users[1]
        marks = {u: self.rec[u].mark() for u in present}
        try:
            await asyncio.wait_for(self.rooms[owner].muc_set_affiliation(self.bare(b), "member"), self.t)
            self.step(f"members: muc_set_affiliation({b}, member) completes", True)
        except (aioxmpp.errors.XMPPError, asyncio.TimeoutError) as e:
            self.step(f"members: muc_set_affiliation({b}, member)", False, f"{type(e).__name__}: {e}")
            return
        for u in present:
            ev = await self.rec[u].signal("on_muc_affiliation_changed", self.t, marks[u],
                                          lambda a, kw: a[1].nick == "Bob" and a[1].affiliation == "member")
            self.step(f"members: {u}'s on_muc_affiliation_changed: Bob is a member", ev is not None)
        try:
            members = await asyncio.wait_for(self.mucs[owner].get_affiliated(self.room, "member"), self.t)
            self.step("members: get_affiliated(member) lists B", [j.bare() for j in members] == [self.bare(b)], f"{members}")
        except (aioxmpp.errors.XMPPError, asyncio.TimeoutError) as e:
            self.step("members: get_affiliated(member)", False, f"{type(e).__name__}: {e}")
        marks = {u: self.rec[u].mark() for u in present}
        try:
            form = aioxmpp.muc.ConfigurationForm.from_xso(await asyncio.wait_for(self.mucs[owner].get_room_config(self.room), self.t))
            form.membersonly.value = True
            await asyncio.wait_for(self.mucs[owner].set_room_config(self.room, form.render_reply()), self.t)
            self.step("members: members-only switched on through ConfigurationForm", True)
        except (aioxmpp.errors.XMPPError, asyncio.TimeoutError) as e:
            self.step("members: members-only switched on", False, f"{type(e).__name__}: {e}")
            return
        for u in present:
            # aioxmpp emits nothing for a status-code message without body or subject: read the stanza.
            ev = await self.rec[u].wait(lambda e: e[0] == "stanza" and isinstance(e[1], aioxmpp.Message)
                                        and e[1].from_ == self.room and 104 in codes(e[1]), self.t, marks[u])
            self.step(f"members: {u} gets the 104 configuration-change notice", ev is not None)
        room, err = await self.join(cc, "Carol")
        self.step("members: a non-member's join fails with registration-required", err == "registration-required",
                  "joined!" if room else err)

    async def destroy(self, present):
        owner = self.a.owner
        marks = {u: self.rec[u].mark() for u in present}
        iq = aioxmpp.IQ(type_=aioxmpp.IQType.SET, to=self.room,
                        payload=muc_xso.OwnerQuery(destroy=muc_xso.DestroyRequest()))
        iq.payload.destroy.reason = "interop over"
        try:
            await asyncio.wait_for(self.clients[owner].send(iq), self.t)
            self.step("destroy: the owner's <destroy/> gets a result", True)
        except (aioxmpp.errors.XMPPError, asyncio.TimeoutError) as e:
            self.step("destroy: the owner's <destroy/>", False, f"{type(e).__name__}: {e}")
            return False
        for u in present:
            ev = await self.rec[u].signal("on_exit", self.t, marks[u])
            p = await self.rec[u].wait(lambda e: e[0] == "stanza" and isinstance(e[1], aioxmpp.Presence)
                                       and e[1].xep0045_muc_user is not None and e[1].xep0045_muc_user.destroy is not None,
                                       self.t, marks[u])
            reason = p[1].xep0045_muc_user.destroy.reason if p else None
            self.step(f"destroy: {u}'s on_exit, the presence carries <destroy><reason>interop over</reason>",
                      ev is not None and reason == "interop over", f"on_exit {'yes' if ev else 'no'}, reason {reason!r}")
        try:
            disco = self.clients[owner].summon(aioxmpp.disco.DiscoClient)
            await asyncio.wait_for(disco.query_info(self.room, require_fresh=True), self.t)
            self.step("destroy: the room is gone", False, "disco#info still answers")
        except aioxmpp.errors.XMPPError as e:
            # Gavel forgets the room (item-not-found); Prosody keeps a tombstone (gone).
            self.step("destroy: the room is gone (disco#info item-not-found or gone)",
                      e.condition in (aioxmpp.ErrorCondition.ITEM_NOT_FOUND, aioxmpp.ErrorCondition.GONE), f"{e.condition}")
        except asyncio.TimeoutError:
            self.step("destroy: the room is gone", False, "disco#info timed out")
        return True

    async def run(self):
        a = self.a
        if len(self.users) < 3:
            self.step("arguments", False, "--users needs three accounts")
            return
        owner, b, cc, d = a.owner, self.users[0], self.users[1], self.users[2]
        async with contextlib.AsyncExitStack() as stack:
            for u in [owner] + self.users:
                c = self.client(u)
                try:
                    await asyncio.wait_for(stack.enter_async_context(c.connected()), self.t * 2)
                except Exception as e:  # noqa: BLE001
                    self.step(f"{u} logs in (aioxmpp)", False, f"{type(e).__name__}: {e}")
                    return
                self.step(f"{u} logs in (aioxmpp)", True)
                self.clients[u] = c
                self.mucs[u] = c.summon(aioxmpp.muc.MUCClient)
                self.rec[u] = Recorder(c)
            destroyed = False
            try:
                if not await self.create() or not await self.configure() or not await self.join_others():
                    return
                present = [owner, b, cc]
                await self.chat(present)
                await self.cross(present)
                await self.subject(present)
                if await self.late_join():
                    present.append(d)
                await self.nick_change([owner, b])
                await self.kick([owner, b, d])
                await self.ban([owner, b])
                await self.members_only([owner, b])
                destroyed = await self.destroy([owner, b])
            finally:
                if not destroyed:
                    with contextlib.suppress(Exception):
                        iq = aioxmpp.IQ(type_=aioxmpp.IQType.SET, to=self.room,
                                        payload=muc_xso.OwnerQuery(destroy=muc_xso.DestroyRequest()))
                        await asyncio.wait_for(self.clients[owner].send(iq), self.t)


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--muc-domain", default=None, help="MUC service (default conference.<domain>)")
    p.add_argument("--owner", default="alice")
    p.add_argument("--users", default="bob,carol,dave", help="three accounts: B, C (kicked), D (late joiner, banned)")
    p.add_argument("--slix-user", default="eve", help="the slixmpp client of the cross-check")
    args = p.parse_args()
    args.muc_domain = args.muc_domain or f"conference.{args.domain}"
    setup_logging(args)
    t = AioMUC(args)
    try:
        await asyncio.wait_for(t.run(), args.timeout * 30)
    except Exception as e:  # noqa: BLE001 - report, do not hang
        t.step("unexpected exception", False, f"{type(e).__name__}: {e}")
    await close_all([t.slix])
    return t.r.finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
