#!/usr/bin/python3
"""Interop: XEP-0050 ad-hoc commands, XEP-0133 administration and Gavel's push command,
driven by aioxmpp (Debian python3-aioxmpp); recipients are slixmpp clients.

    adhoc.py --host 127.0.0.1 --port 5222 --domain localhost --password secret \
        [--admin admin --admin-password PW] [--user bob] [--timeout 10] [-v]

The admin account (--admin, password --admin-password, default --password)
must be a server administrator; --user (default bob) must exist with
--password and not be one. Steps:
  list:     the admin's command list (disco#items node commands) holds the
            XEP-0133 nodes and urn:gavel:push:0; the user's list is empty
  add-user: execute -> form with accountjid/password, complete -> completed;
            the new account logs in (slixmpp)
  online:   get-online-users-num completes at once with onlineusersnum >= 2;
            get-online-users-list with max_items=25 lists admin and user
  push:     to the online user and the new (offline) account: the completion
            counts 1 delivered and 1 stored; the user receives the headline with
            its XEP-0066 url; the new account gets it at login with a <delay/>
  forbidden: the user executing add-user gets <forbidden/>
Exit status 0 only when every step passed.
"""
import argparse
import asyncio
import logging
import sys
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from xmpptest import Report, add_common_args, close_all, login, setup_logging, wait  # re-execs /usr/bin/python3

try:
    import aioxmpp
    import aioxmpp.adhoc
    import aioxmpp.connector
    import aioxmpp.disco
    import aioxmpp.forms
except ImportError:
    sys.exit("aioxmpp is not importable: apt-get install -y python3-aioxmpp, run with /usr/bin/python3")

ADMIN = "http://jabber.org/protocol/admin"
PUSH = "urn:gavel:push:0"
ActionType = aioxmpp.adhoc.ActionType
Status = aioxmpp.adhoc.CommandStatus


def aio_client(args, user, password):
    jid = aioxmpp.JID.fromstr(f"{user}@{args.domain}/adhoc-{uuid.uuid4().hex[:6]}")
    return aioxmpp.Client(jid, aioxmpp.make_security_layer(password, no_verify=True),
                          override_peer=[(args.host, args.port, aioxmpp.connector.STARTTLSConnector())],
                          logger=logging.getLogger("aioxmpp"))


def submit(fields, template=None):
    """A submitted data form with the given var -> [values], field types taken
    from template (the form received; aioxmpp refuses several values in a field
    of the default type text-single)."""
    types = {f.var: f.type_ for f in (template.fields if template is not None else [])}
    form = aioxmpp.forms.Data(type_=aioxmpp.forms.DataType.SUBMIT)
    for var, values in fields.items():
        typ = types.get(var, aioxmpp.forms.FieldType.TEXT_MULTI if len(values) > 1 else aioxmpp.forms.FieldType.TEXT_SINGLE)
        form.fields.append(aioxmpp.forms.Field(var=var, type_=typ, values=values))
    return form


def values(form, var):
    if form is None:
        return []
    for f in form.fields:
        if f.var == var:
            return list(f.values)
    return []


def notes(session):
    return "; ".join(f"{n.type_.value}: {n.body}" for n in (session.response.notes if session.response else []))


async def run_command(adhoc, peer, node, form_fields, timeout):
    """Execute node, submit form_fields (None: expect completion at once); return the session."""
    session = await asyncio.wait_for(adhoc.execute(peer, node), timeout)
    if form_fields is not None:
        if session.status != Status.EXECUTING:
            raise RuntimeError(f"{node}: status {session.status} instead of a form")
        await asyncio.wait_for(session.proceed(action=ActionType.COMPLETE, payload=submit(form_fields, session.first_payload)), timeout)
    return session


async def admin_steps(args, report, server, admin_adhoc, user_adhoc):
    t = args.timeout
    d = args.domain
    items = await asyncio.wait_for(admin_adhoc.get_commands(server), t)
    nodes = {it.node for it in items}
    want = {f"{ADMIN}#add-user", f"{ADMIN}#delete-user", f"{ADMIN}#change-user-password", f"{ADMIN}#get-online-users-num",
            f"{ADMIN}#get-online-users-list", f"{ADMIN}#get-registered-users-num", f"{ADMIN}#announce", PUSH}
    report.step("admin's command list has the XEP-0133 nodes and the push node", want <= nodes,
                f"missing {sorted(want - nodes)}")
    user_items = await asyncio.wait_for(user_adhoc.get_commands(server), t)
    report.step("the user's command list is empty", len(user_items) == 0, f"{[it.node for it in user_items]}")

    # add-user
    newbie = "adh" + uuid.uuid4().hex[:10]
    session = await asyncio.wait_for(admin_adhoc.execute(server, f"{ADMIN}#add-user"), t)
    form_ok = session.status == Status.EXECUTING and any(f.var == "accountjid" for f in session.first_payload.fields)
    report.step("add-user: execute returns the form", form_ok, f"status {session.status}")
    await asyncio.wait_for(session.proceed(action=ActionType.COMPLETE, payload=submit({
        "FORM_TYPE": [ADMIN], "accountjid": [f"{newbie}@{d}"], "password": [args.password],
        "password-verify": [args.password]}, session.first_payload)), t)
    report.step("add-user: completed", session.status == Status.COMPLETED, f"{session.status} {notes(session)}")
    c, err = await login(args, newbie, roster=False, presence=False)
    report.step("the added account logs in (slixmpp)", c is not None, err or "")
    await close_all([c])

    # online users
    s = await run_command(admin_adhoc, server, f"{ADMIN}#get-online-users-num", None, t)
    num = values(s.first_payload, "onlineusersnum")
    report.step("get-online-users-num completes at once with >= 2",
                s.status == Status.COMPLETED and num and int(num[0]) >= 2, f"{s.status} {num}")
    s = await run_command(admin_adhoc, server, f"{ADMIN}#get-online-users-list", {"max_items": ["25"]}, t)
    listed = values(s.first_payload, "onlineuserjids")
    report.step("get-online-users-list lists the admin and the user",
                s.status == Status.COMPLETED and f"{args.admin}@{d}" in listed and f"{args.user}@{d}" in listed, f"{listed}")
    return newbie


async def push_steps(args, report, server, admin_adhoc, recipient, offline_user):
    t = args.timeout
    url = "https://example.com/lot/" + uuid.uuid4().hex[:6]
    got = recipient.expect("message", lambda m: m["type"] == "headline" and m["body"] == "Bidding opens now")
    s = await run_command(admin_adhoc, server, PUSH, {
        "FORM_TYPE": [PUSH], "audience": ["list"], "recipients": [args.user, f"{offline_user}@{args.domain}"],
        "subject": ["Lot 7"], "body": ["Bidding opens now"], "url": [url]}, t)
    delivered, stored = values(s.first_payload, "delivered"), values(s.first_payload, "stored")
    report.step("push: completed with 1 delivered, 1 stored", s.status == Status.COMPLETED and delivered == ["1"] and stored == ["1"],
                f"{s.status} delivered={delivered} stored={stored} {notes(s)}")
    m = await wait(got, t)
    report.step("push: the online user receives the headline with subject and XEP-0066 url",
                m is not None and m["subject"] == "Lot 7" and url in str(m), str(m))

    later = None

    def before(c):
        nonlocal later
        later = c.expect("message", lambda m: m["type"] == "headline" and m["body"] == "Bidding opens now")
    c, err = await login(args, offline_user, before_connect=before)
    if report.step("push: the offline account logs in", c is not None, err or ""):
        m = await wait(later, t)
        report.step("push: delivered from offline storage with <delay/>",
                    m is not None and "urn:xmpp:delay" in str(m) and url in str(m), str(m))
    await close_all([c])


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--admin", default="admin")
    p.add_argument("--admin-password", default=None, help="default: --password")
    p.add_argument("--user", default="bob")
    args = p.parse_args()
    setup_logging(args)
    report = Report("adhoc")
    server = aioxmpp.JID.fromstr(args.domain)

    recipient, err = await login(args, args.user)
    if not report.step(f"{args.user} logs in (slixmpp)", recipient is not None, err or ""):
        return report.finish()
    admin = aio_client(args, args.admin, args.admin_password or args.password)
    user = aio_client(args, args.user, args.password)
    try:
        async with admin.connected(), user.connected():
            report.step("admin and user log in (aioxmpp)", True)
            admin_adhoc = admin.summon(aioxmpp.adhoc.AdHocClient)
            user_adhoc = user.summon(aioxmpp.adhoc.AdHocClient)
            newbie = await admin_steps(args, report, server, admin_adhoc, user_adhoc)
            await push_steps(args, report, server, admin_adhoc, recipient, newbie)
            try:
                await asyncio.wait_for(user_adhoc.execute(server, f"{ADMIN}#add-user"), args.timeout)
                report.step("a user executing add-user is refused", False, "the command started")
            except aioxmpp.errors.XMPPCancelError as e:
                report.step("a user executing add-user gets <forbidden/>",
                            e.condition == aioxmpp.ErrorCondition.FORBIDDEN, str(e))
    except Exception as e:  # noqa: BLE001
        report.step("aioxmpp session", False, f"{type(e).__name__}: {e}")
    await close_all([recipient])
    return report.finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
