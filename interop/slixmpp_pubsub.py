#!/usr/bin/python3
"""Interop: slixmpp's XEP-0060 / XEP-0163 plugins (Debian python3-slixmpp: xep_0060,
xep_0004, xep_0059, xep_0163, xep_0115, xep_0118) against an XMPP server's
publish-subscribe service and PEP.

    slixmpp_pubsub.py --host 127.0.0.1 --port 5222 --domain localhost --password secret \
        [--pubsub-domain pubsub.localhost] [--owner alice --subscriber bob] [--timeout 10] [-v]

The owner and the subscriber must exist with the given password. The node is
new on every run (interop-slix-<random>). Steps:
  disco:      the service's disco#info has identity pubsub/service and the
              pubsub feature
  create:     create_node with a node_config form (title, max_items 10,
              notify_retract/config/delete, access open, deliver_payloads)
  config:     get_node_config shows the title and max_items; set_node_config
              changes the title, get_node_config reads it back; the
              subscriber gets a configuration notification
  subscribe:  the subscriber subscribes (state subscribed, its bare JID)
  publish:    with an id: the result names it, the subscriber's event has
              the id and the payload; without an id: the server's id comes
              back in the result and in the event
  items:      max_items=2 returns the two newest; RSM paging (xep_0059
              iterator, pages of 2) returns every item exactly once, with
              consistent first/last/count
  retract:    notify=True: the subscriber gets <retract id/>; the item is gone
  purge:      the subscriber gets <purge/>; no items left
  delete:     the subscriber gets <delete/>; the node is gone (item-not-found)
  pep:        owner and subscriber subscribe to each other's presence; the
              subscriber advertises http://jabber.org/protocol/tune+notify (xep_0118 +
              xep_0115 caps); the owner publishes a tune (xep_0118 over
              xep_0163); the subscriber receives it with artist and title
Exit status 0 only when every step passed. -v writes slixmpp's protocol trace to stderr.
"""
import argparse
import asyncio
import sys
import uuid
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from xmpptest import JID, Report, add_common_args, close_all, login, setup_logging, wait  # re-execs /usr/bin/python3

from slixmpp.exceptions import IqError, IqTimeout  # noqa: E402
from slixmpp.plugins.xep_0059.stanza import Set as RSMSet  # noqa: E402
from slixmpp.plugins.xep_0060.stanza import Pubsub  # noqa: E402
from slixmpp.xmlstream import register_stanza_plugin  # noqa: E402

# slixmpp 1.8.3's xep_0059 registers <set/> under disco#items only: make it
# available in <pubsub/> so get_items(iterator=True) can page.
register_stanza_plugin(Pubsub, RSMSet)

NS_PAYLOAD = "urn:example:interop:pubsub"
NS_TUNE = "http://jabber.org/protocol/tune"
NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config"


def q(ns, local):
    return f"{{{ns}}}{local}"


def payload(text):
    e = ET.Element(q(NS_PAYLOAD, "entry"))
    e.text = text
    return e


def iq_error(e):
    if isinstance(e, IqError):
        return f"{e.iq['error']['type']}/{e.iq['error']['condition']}"
    if isinstance(e, IqTimeout):
        return "timeout"
    return f"{type(e).__name__}: {e}"


def form_values(form):
    """{var: value} of a slixmpp form (list values stay lists)."""
    out = {}
    for var, field in form.get_fields().items():
        out[var] = field.get_value(convert=False)
    return out


def event_item(msg):
    """(id, payload text) of a publish event's item."""
    it = msg["pubsub_event"]["items"]["item"]
    el = it.xml.find(q(NS_PAYLOAD, "entry"))
    return it["id"], (el.text if el is not None else None)


def pubsub_clients(c):
    for p in ("xep_0004", "xep_0059", "xep_0060", "xep_0115", "xep_0163", "xep_0118"):
        c.register_plugin(p)


async def run(args, rep):
    svc = args.pubsub_domain or f"pubsub.{args.domain}"
    node = f"interop-slix-{uuid.uuid4().hex[:8]}"
    t = args.timeout
    owner, err = await login(args, args.owner, resource="pubsub", before_connect=pubsub_clients)
    if not rep.step(f"login {args.owner}", owner, err):
        return
    sub, err = await login(args, args.subscriber, resource="pubsub", before_connect=pubsub_clients)
    if not rep.step(f"login {args.subscriber}", sub, err):
        await close_all([owner])
        return
    clients = [owner, sub]
    ps_o, ps_s = owner["xep_0060"], sub["xep_0060"]
    try:
        # disco
        try:
            info = await owner["xep_0030"].get_info(jid=svc, timeout=t)
            ids = {(i[0], i[1]) for i in info["disco_info"]["identities"]}
            feats = set(info["disco_info"]["features"])
            rep.step("disco: pubsub/service identity and pubsub feature",
                     ("pubsub", "service") in ids and "http://jabber.org/protocol/pubsub" in feats,
                     f"identities {sorted(ids)}")
        except (IqError, IqTimeout) as e:
            rep.step("disco: pubsub/service identity and pubsub feature", False, iq_error(e))

        # create with a configuration form
        form = owner["xep_0004"].make_form(ftype="submit")
        form.add_field(var="FORM_TYPE", ftype="hidden", value=NODE_CONFIG)
        form.add_field(var="pubsub#title", value="Interop node")
        form.add_field(var="pubsub#max_items", value="10")
        form.add_field(var="pubsub#access_model", value="open")
        form.add_field(var="pubsub#deliver_payloads", ftype="boolean", value=True)
        form.add_field(var="pubsub#notify_retract", ftype="boolean", value=True)
        form.add_field(var="pubsub#notify_config", ftype="boolean", value=True)
        form.add_field(var="pubsub#notify_delete", ftype="boolean", value=True)
        try:
            res = await ps_o.create_node(svc, node, config=form, timeout=t)
            created = res["pubsub"]["create"]["node"] or node
            rep.step(f"create {node} with a node_config form", created == node, f"created {created!r}")
        except (IqError, IqTimeout) as e:
            rep.step(f"create {node} with a node_config form", False, iq_error(e))
            return

        # configuration
        try:
            res = await ps_o.get_node_config(svc, node, timeout=t)
            vals = form_values(res["pubsub_owner"]["configure"]["form"])
            rep.step("get_node_config shows the submitted title and max_items",
                     vals.get("pubsub#title") == "Interop node" and str(vals.get("pubsub#max_items")) == "10",
                     f"title {vals.get('pubsub#title')!r} max_items {vals.get('pubsub#max_items')!r}")
        except (IqError, IqTimeout) as e:
            rep.step("get_node_config shows the submitted title and max_items", False, iq_error(e))

        # subscribe
        try:
            res = await ps_s.subscribe(svc, node, timeout=t)
            s = res["pubsub"]["subscription"]
            rep.step(f"{args.subscriber} subscribes", s["subscription"] == "subscribed" and JID(s["jid"]).bare == sub.boundjid.bare,
                     f"subscription {s['subscription']!r} jid {s['jid']}")
        except (IqError, IqTimeout) as e:
            rep.step(f"{args.subscriber} subscribes", False, iq_error(e))

        # configure -> config notification
        got_cfg = sub.expect("pubsub_config", lambda m: m["pubsub_event"]["configuration"]["node"] == node)
        try:
            cfg = owner["xep_0004"].make_form(ftype="submit")
            cfg.add_field(var="FORM_TYPE", ftype="hidden", value=NODE_CONFIG)
            cfg.add_field(var="pubsub#title", value="Interop node, renamed")
            await ps_o.set_node_config(svc, node, cfg, timeout=t)
            res = await ps_o.get_node_config(svc, node, timeout=t)
            vals = form_values(res["pubsub_owner"]["configure"]["form"])
            rep.step("set_node_config changes the title", vals.get("pubsub#title") == "Interop node, renamed",
                     f"title {vals.get('pubsub#title')!r}; max_items kept {vals.get('pubsub#max_items')!r}")
        except (IqError, IqTimeout) as e:
            rep.step("set_node_config changes the title", False, iq_error(e))
        rep.step("subscriber gets the configuration notification", await wait(got_cfg, t) is not None)

        # publish with and without id
        got = sub.expect("pubsub_publish", lambda m: m["pubsub_event"]["items"]["node"] == node)
        try:
            res = await ps_o.publish(svc, node, id="item-1", payload=payload("first"), timeout=t)
            rid = res["pubsub"]["publish"]["item"]["id"]
            rep.step("publish with id item-1", rid in ("item-1", ""), f"result id {rid!r}")
        except (IqError, IqTimeout) as e:
            rep.step("publish with id item-1", False, iq_error(e))
        m = await wait(got, t)
        rep.step("subscriber gets item-1 with its payload", m is not None and event_item(m) == ("item-1", "first"),
                 f"{event_item(m) if m is not None else 'nothing'}")
        got = sub.expect("pubsub_publish", lambda m: m["pubsub_event"]["items"]["node"] == node)
        gen = None
        try:
            res = await ps_o.publish(svc, node, payload=payload("second"), timeout=t)
            gen = res["pubsub"]["publish"]["item"]["id"]
            rep.step("publish without id: the result carries the server's id", bool(gen), f"id {gen!r}")
        except (IqError, IqTimeout) as e:
            rep.step("publish without id: the result carries the server's id", False, iq_error(e))
        m = await wait(got, t)
        rep.step("subscriber gets the generated id", m is not None and gen and event_item(m) == (gen, "second"),
                 f"{event_item(m) if m is not None else 'nothing'}")
        published = ["item-1"] + ([gen] if gen else [])
        for i in range(3, 7):
            try:
                await ps_o.publish(svc, node, id=f"item-{i}", payload=payload(f"n{i}"), timeout=t)
                published.append(f"item-{i}")
            except (IqError, IqTimeout) as e:
                rep.step(f"publish item-{i}", False, iq_error(e))

        # items: max_items and RSM
        try:
            res = await ps_s.get_items(svc, node, max_items=2, timeout=t)
            ids = [i["id"] for i in res["pubsub"]["items"]]
            rep.step("get_items max_items=2 returns the two newest", sorted(ids) == sorted(published[-2:]), f"ids {ids}")
        except (IqError, IqTimeout) as e:
            rep.step("get_items max_items=2 returns the two newest", False, iq_error(e))
        try:
            seen, pages, counts = [], 0, set()
            it = ps_s.get_items(svc, node, iterator=True)
            it.amount = 2
            async for page in it:
                pages += 1
                seen += [i["id"] for i in page["pubsub"]["items"]]
                counts.add(page["pubsub"]["rsm"]["count"])
                if pages > 20:
                    break
            rep.step("RSM paging (pages of 2) returns every item once",
                     sorted(seen) == sorted(published) and pages >= 3,
                     f"{pages} pages, ids {seen}, counts {sorted(counts)}")
        except (IqError, IqTimeout) as e:
            rep.step("RSM paging (pages of 2) returns every item once", False, iq_error(e))

        # retract with notify
        got = sub.expect("pubsub_retract", lambda m: m["pubsub_event"]["items"]["node"] == node)
        try:
            await ps_o.retract(svc, node, "item-1", notify=True, timeout=t)
            m = await wait(got, t)
            rid = m["pubsub_event"]["items"]["retract"]["id"] if m is not None else None
            rep.step("retract item-1 (notify): subscriber gets <retract id='item-1'/>", rid == "item-1", f"retract {rid!r}")
            res = await ps_s.get_items(svc, node, timeout=t)
            ids = [i["id"] for i in res["pubsub"]["items"]]
            rep.step("item-1 is gone", "item-1" not in ids and len(ids) == len(published) - 1, f"ids {ids}")
        except (IqError, IqTimeout) as e:
            rep.step("retract item-1 (notify)", False, iq_error(e))

        # purge
        got = sub.expect("pubsub_purge", lambda m: m["pubsub_event"]["purge"]["node"] == node)
        try:
            await ps_o.purge(svc, node, timeout=t)
            rep.step("purge: subscriber gets <purge/>", await wait(got, t) is not None)
            res = await ps_s.get_items(svc, node, timeout=t)
            ids = [i["id"] for i in res["pubsub"]["items"]]
            rep.step("no items after purge", ids == [], f"ids {ids}")
        except (IqError, IqTimeout) as e:
            rep.step("purge", False, iq_error(e))

        # delete
        got = sub.expect("pubsub_delete", lambda m: m["pubsub_event"]["delete"]["node"] == node)
        try:
            await ps_o.delete_node(svc, node, timeout=t)
            rep.step("delete: subscriber gets <delete/>", await wait(got, t) is not None)
        except (IqError, IqTimeout) as e:
            rep.step("delete", False, iq_error(e))
        try:
            await ps_s.get_items(svc, node, timeout=t)
            rep.step("deleted node: items item-not-found", False, "got a result")
        except IqError as e:
            rep.step("deleted node: items item-not-found", e.iq["error"]["condition"] == "item-not-found", iq_error(e))
        except IqTimeout as e:
            rep.step("deleted node: items item-not-found", False, iq_error(e))

        await pep(args, rep, owner, sub)
    finally:
        await close_all(clients)


async def pep(args, rep, owner, sub):
    """The subscriber sees the owner's tune through PEP (presence access model + caps +notify)."""
    t = args.timeout
    o_bare, s_bare = owner.boundjid.bare, sub.boundjid.bare
    # Mutual presence subscription: the presence access model lets the
    # contact in, and the contact's presence (with caps) reaches the owner,
    # which is how the server learns of its +notify interest.
    for asker, approver, a_bare, b_bare in ((sub, owner, s_bare, o_bare), (owner, sub, o_bare, s_bare)):
        approved = asker.expect("presence_subscribed", lambda p, b=b_bare: p["from"].bare == b)
        asked = approver.expect("presence_subscribe", lambda p, a=a_bare: p["from"].bare == a)
        asker.send_presence(pto=b_bare, ptype="subscribe")
        if await wait(asked, t) is None:
            rep.step(f"pep: {a_bare}'s subscription request reaches {b_bare}", False)
            return
        approver.send_presence(pto=a_bare, ptype="subscribed")
        rep.step(f"pep: {b_bare} approves {a_bare}'s presence subscription", await wait(approved, t) is not None)
    # Re-announce caps so the server learns the +notify interest (xep_0118 registered it).
    tune = sub.expect("user_tune_publish", lambda m: m["from"].bare == o_bare)
    sub.send_presence()
    await asyncio.sleep(1)
    try:
        await owner["xep_0118"].publish_tune(artist="Interop Band", title=f"Song {uuid.uuid4().hex[:4]}", timeout=t)
        rep.step("pep: owner publishes a tune (xep_0118 over xep_0163)", True)
    except (IqError, IqTimeout) as e:
        rep.step("pep: owner publishes a tune (xep_0118 over xep_0163)", False, iq_error(e))
        return
    m = await wait(tune, t)
    got = m["pubsub_event"]["items"]["item"]["tune"] if m is not None else None
    rep.step("pep: contact with tune+notify receives it", got is not None and got["artist"] == "Interop Band",
             f"artist {got['artist']!r} title {got['title']!r}" if got is not None else "nothing")
    # Leave the rosters as they were.
    for c, other in ((owner, s_bare), (sub, o_bare)):
        try:
            await c.del_roster_item(other)
        except Exception:  # noqa: BLE001
            pass


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(p)
    p.add_argument("--pubsub-domain", default="", help="pubsub service (default pubsub.<domain>)")
    p.add_argument("--owner", default="alice")
    p.add_argument("--subscriber", default="bob")
    args = p.parse_args()
    setup_logging(args)
    rep = Report("slixmpp_pubsub")
    asyncio.run(run(args, rep))
    sys.exit(rep.finish())


if __name__ == "__main__":
    main()
