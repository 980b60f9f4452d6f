#!/usr/bin/python3
"""Interop: aioxmpp's publish-subscribe client (Debian python3-aioxmpp, aioxmpp.PubSubClient)
against an XMPP server's XEP-0060 service.

    aioxmpp_pubsub.py --host 127.0.0.1 --port 5222 --domain localhost --password secret \
        [--pubsub-domain pubsub.localhost] [--owner carol --subscriber dave] [--timeout 10] [-v]

The owner and the subscriber must exist with the given password. The node is
new on every run (interop-aio-<random>). Everything is asserted on what
PubSubClient returns and signals (on_item_published, on_item_retracted,
on_node_deleted). Steps:
  features:  get_features of the service includes publish, create-nodes,
             subscribe, retrieve-items, retract-items, delete-nodes
  create:    create(service, node) returns the node; get_node_config, then
             set_node_config with title and notify_retract/notify_delete on,
             read back
  subscribe: the subscriber's subscribe: subscription 'subscribed' for its
             bare JID; get_subscriptions lists the node
  publish:   publish with id_: returns the id; the subscriber's
             on_item_published has the node, the id and the payload XSO;
             publish without id_: the event carries an id (and it is the
             returned one when the server returns it)
  items:     get_items has both items with their payloads; max_items=1 gives
             one; get_items_by_id gives the asked item
  retract:   retract(notify=True): on_item_retracted with the id; the item is
             gone from get_items
  delete:    delete: on_node_deleted at the subscriber; get_items then fails
             with item-not-found
Exit status 0 only when every step passed. -v writes the protocol traces to stderr.
"""
import argparse
import asyncio
import logging
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from xmpptest import Report, add_common_args, setup_logging  # re-execs /usr/bin/python3

try:
    import aioxmpp
    import aioxmpp.connector
    import aioxmpp.errors
    import aioxmpp.forms
    import aioxmpp.pubsub
    import aioxmpp.pubsub.xso as pubsub_xso
    import aioxmpp.xso
except ImportError:
    sys.exit("aioxmpp is not importable: apt-get install -y python3-aioxmpp, run with /usr/bin/python3")

NS_PAYLOAD = "urn:example:interop:aioxmpp"
NODE_CONFIG = "http://jabber.org/protocol/pubsub#node_config"


@pubsub_xso.as_payload_class
class Entry(aioxmpp.xso.XSO):
    TAG = (NS_PAYLOAD, "entry")
    text = aioxmpp.xso.Text(default=None)

    def __init__(self, text=None):
        super().__init__()
        self.text = text


def condition(e):
    c = getattr(e, "condition", None)
    if hasattr(c, "value"):
        return c.value[1]
    return str(c or e)


class Recorder:
    """Signal arguments in order, with a future per awaited signal."""

    def __init__(self):
        self.events = []
        self.waiters = []

    def hook(self, client, name):
        def handler(*args, **kwargs):
            self.events.append((name, args, kwargs))
            for w in list(self.waiters):
                wname, pred, fut = w
                if wname == name and not fut.done() and pred(args, kwargs):
                    fut.set_result((args, kwargs))
                    self.waiters.remove(w)
        getattr(client, name).connect(handler)

    def expect(self, name, pred=lambda a, k: True):
        fut = asyncio.get_running_loop().create_future()
        self.waiters.append((name, pred, fut))
        return fut


async def wait(fut, timeout):
    try:
        return await asyncio.wait_for(fut, timeout)
    except asyncio.TimeoutError:
        return None


class Run:
    def __init__(self, args):
        self.a = args
        self.r = Report("aioxmpp_pubsub")
        self.t = args.timeout
        self.svc = aioxmpp.JID.fromstr(args.pubsub_domain or f"pubsub.{args.domain}")
        self.node = f"interop-aio-{uuid.uuid4().hex[:8]}"

    def step(self, label, ok, detail=""):
        return self.r.step(label, ok, detail)

    def client(self, user):
        jid = aioxmpp.JID.fromstr(f"{user}@{self.a.domain}/aio-pubsub")
        return aioxmpp.Client(jid, aioxmpp.make_security_layer(self.a.password, no_verify=True),
                              override_peer=[(self.a.host, self.a.port, aioxmpp.connector.STARTTLSConnector())],
                              logger=logging.getLogger(f"aioxmpp.{user}"))

    async def main(self):
        owner_c, sub_c = self.client(self.a.owner), self.client(self.a.subscriber)
        try:
            # Available presence: notifications to a bare JID go to available resources.
            available = aioxmpp.PresenceState(True)
            async with owner_c.connected(presence=available), sub_c.connected(presence=available):
                self.step(f"login {self.a.owner} and {self.a.subscriber}", True)
                await asyncio.wait_for(self.steps(owner_c, sub_c), self.t * 20)
        except asyncio.TimeoutError:
            self.step("the steps finish in time", False, f"over {self.t * 20:g}s")
        except (OSError, aioxmpp.errors.StreamError, aioxmpp.errors.StreamNegotiationFailure) as e:
            self.step(f"login {self.a.owner} and {self.a.subscriber}", False, f"{type(e).__name__}: {e}")
        return self.r.finish()

    async def steps(self, owner_c, sub_c):
        ps_o, ps_s = owner_c.summon(aioxmpp.PubSubClient), sub_c.summon(aioxmpp.PubSubClient)
        rec = Recorder()
        for sig in ("on_item_published", "on_item_retracted", "on_node_deleted"):
            rec.hook(ps_s, sig)
        svc, node, t = self.svc, self.node, self.t
        mine = lambda a, k: a[1] == node  # noqa: E731 - signal args: (jid, node, ...)

        try:
            feats = {f.value.rsplit("#", 1)[-1] for f in await ps_o.get_features(svc)}
            want = {"publish", "create-nodes", "subscribe", "retrieve-items", "retract-items", "delete-nodes"}
            self.step("get_features lists publish, create, subscribe, retrieve, retract, delete",
                      want <= feats, f"missing {sorted(want - feats)}")
        except aioxmpp.errors.XMPPError as e:
            self.step("get_features", False, condition(e))

        try:
            created = await ps_o.create(svc, node)
            self.step(f"create {node}", created in (node, None), f"returned {created!r}")
        except aioxmpp.errors.XMPPError as e:
            self.step(f"create {node}", False, condition(e))
            return

        try:
            data = await ps_o.get_node_config(svc, node)
            # NodeConfigForm.from_xso is not used: aioxmpp 0.13 declares
            # pubsub#language text-single and rejects a form that has it
            # list-single, as XEP-0060 §16.4.4 registers it. The submit form
            # is built from aioxmpp.forms.Data instead.
            offered = {f.var for f in data.fields}
            sub_form = aioxmpp.forms.Data(aioxmpp.forms.DataType.SUBMIT)
            for var, typ, vals in (("FORM_TYPE", aioxmpp.forms.FieldType.HIDDEN, [NODE_CONFIG]),
                                   ("pubsub#title", aioxmpp.forms.FieldType.TEXT_SINGLE, ["aioxmpp interop"]),
                                   ("pubsub#notify_retract", aioxmpp.forms.FieldType.BOOLEAN, ["1"]),
                                   ("pubsub#notify_delete", aioxmpp.forms.FieldType.BOOLEAN, ["1"])):
                if var == "FORM_TYPE" or var in offered:
                    sub_form.fields.append(aioxmpp.forms.Field(var=var, type_=typ, values=vals))
            await ps_o.set_node_config(svc, sub_form, node)
            back = {f.var: list(f.values) for f in (await ps_o.get_node_config(svc, node)).fields}
            title_ok = back.get("pubsub#title") == ["aioxmpp interop"] or "pubsub#title" not in offered
            flags_ok = all(back.get(v, [""])[0] in ("1", "true") for v in ("pubsub#notify_retract", "pubsub#notify_delete"))
            self.step("get_node_config/set_node_config: title, notify_retract, notify_delete set and read back",
                      title_ok and flags_ok,
                      f"title {back.get('pubsub#title')}{'' if 'pubsub#title' in offered else ' (the form has no title field)'}"
                      f" retract {back.get('pubsub#notify_retract')} delete {back.get('pubsub#notify_delete')}")
        except aioxmpp.errors.XMPPError as e:
            self.step("get_node_config/set_node_config: title, notify_retract, notify_delete set and read back", False, condition(e))

        try:
            res = await ps_s.subscribe(svc, node)
            s = res.payload
            self.step(f"{self.a.subscriber} subscribes", s.subscription == "subscribed" and s.jid.bare() == sub_c.local_jid.bare(),
                      f"subscription {s.subscription!r} jid {s.jid}")
            subs = await ps_s.get_subscriptions(svc, node)
            # The node is on each <subscription/> or, for a one-node query, may be on <subscriptions/> only.
            nodes = [x.node or subs.node for x in subs.subscriptions]
            self.step("get_subscriptions lists the node", node in nodes, f"nodes {nodes}")
        except aioxmpp.errors.XMPPError as e:
            self.step(f"{self.a.subscriber} subscribes", False, condition(e))

        got = rec.expect("on_item_published", mine)
        try:
            rid = await ps_o.publish(svc, node, Entry("first"), id_="one")
            self.step("publish with id_ 'one'", rid in ("one", None), f"returned {rid!r}")
        except aioxmpp.errors.XMPPError as e:
            self.step("publish with id_ 'one'", False, condition(e))
        ev = await wait(got, t)
        item = ev[0][2] if ev else None
        self.step("on_item_published: node, id and payload", item is not None and item.id_ == "one"
                  and isinstance(item.registered_payload, Entry) and item.registered_payload.text == "first",
                  f"id {item.id_!r} payload {getattr(item.registered_payload, 'text', None)!r}" if item else "nothing")

        got = rec.expect("on_item_published", mine)
        gen = None
        try:
            gen = await ps_o.publish(svc, node, Entry("second"))
            self.step("publish without id_", True, f"returned {gen!r}")
        except aioxmpp.errors.XMPPError as e:
            self.step("publish without id_", False, condition(e))
        ev = await wait(got, t)
        item = ev[0][2] if ev else None
        self.step("on_item_published carries the server's id", item is not None and bool(item.id_) and gen in (None, item.id_),
                  f"event id {item.id_ if item else None!r}, returned {gen!r}")
        gen = gen or (item.id_ if item else None)

        try:
            res = await ps_s.get_items(svc, node)
            items = {i.id_: getattr(i.registered_payload, "text", None) for i in res.payload.items}
            self.step("get_items has both items with their payloads", items.get("one") == "first" and items.get(gen) == "second",
                      f"items {items}")
            res = await ps_s.get_items(svc, node, max_items=1)
            ids = [i.id_ for i in res.payload.items]
            self.step("get_items max_items=1 gives the newest", ids == [gen], f"ids {ids}")
            res = await ps_s.get_items_by_id(svc, node, ["one"])
            ids = [i.id_ for i in res.payload.items]
            self.step("get_items_by_id(['one'])", ids == ["one"], f"ids {ids}")
        except aioxmpp.errors.XMPPError as e:
            self.step("get_items", False, condition(e))

        got = rec.expect("on_item_retracted", mine)
        try:
            await ps_o.retract(svc, node, "one", notify=True)
            ev = await wait(got, t)
            self.step("retract(notify=True): on_item_retracted with the id", ev is not None and ev[0][2] == "one",
                      f"{ev[0] if ev else 'nothing'}")
            res = await ps_s.get_items(svc, node)
            ids = [i.id_ for i in res.payload.items]
            self.step("the retracted item is gone", "one" not in ids and gen in ids, f"ids {ids}")
        except aioxmpp.errors.XMPPError as e:
            self.step("retract", False, condition(e))

        got = rec.expect("on_node_deleted", mine)
        try:
            await ps_o.delete(svc, node)
            self.step("delete: on_node_deleted at the subscriber", await wait(got, t) is not None)
        except aioxmpp.errors.XMPPError as e:
            self.step("delete", False, condition(e))
        try:
            await ps_s.get_items(svc, node)
            self.step("deleted node: get_items fails with item-not-found", False, "got a result")
        except aioxmpp.errors.XMPPError as e:
            self.step("deleted node: get_items fails with item-not-found", condition(e) == "item-not-found", condition(e))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_common_args(p)
    p.add_argument("--pubsub-domain", default="", help="pubsub service (default pubsub.<domain>)")
    p.add_argument("--owner", default="carol")
    p.add_argument("--subscriber", default="dave")
    args = p.parse_args()
    setup_logging(args)
    sys.exit(asyncio.run(Run(args).main()))


if __name__ == "__main__":
    main()
