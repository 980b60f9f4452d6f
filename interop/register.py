#!/usr/bin/python3
"""Interop: XEP-0077 in-band registration against an XMPP server.

    register.py --host 127.0.0.1 --port 5222 --domain localhost --password secret [--timeout 10] [-v]

slixmpp 1.8.3 and go-sendxmpp cannot register before authenticating, so that
part speaks raw XML over a socket (Python's ssl for STARTTLS, certificate not
verified); everything after it uses slixmpp and its xep_0077 plugin. Steps:
  raw:      <register xmlns='http://jabber.org/features/iq-register'/> offered
            before and after STARTTLS; iq get returns <username/> and
            <password/>; iq set creates a fresh account (result); the same name
            again gives <conflict/>; a missing password gives <not-acceptable/>
  slixmpp:  the new account logs in (SCRAM); get shows <registered/>;
            xep_0077 change_password, then a login with the new password works
            and the old one is refused; xep_0077 cancel_registration gets a
            result and the server closes the stream; the account cannot log in
            any more
--password is unused (the account is created here) but accepted like in the
other scripts. Exit status 0 only when every step passed.
"""
import argparse
import asyncio
import socket
import ssl
import sys
import uuid
import xml.etree.ElementTree as ET

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from xmpptest import Report, add_common_args, close_all, login, setup_logging, wait

NS_STREAM = "http://etherx.jabber.org/streams"
NS_TLS = "urn:ietf:params:xml:ns:xmpp-tls"
NS_REG = "jabber:iq:register"
NS_REG_FEATURE = "http://jabber.org/features/iq-register"
NS_STANZAS = "urn:ietf:params:xml:ns:xmpp-stanzas"


def q(ns, local):
    return "{%s}%s" % (ns, local)


class RawStream:
    """A minimal client stream: open, read top-level elements, STARTTLS."""

    def __init__(self, host, port, domain, timeout, verbose):
        self.domain = domain
        self.verbose = verbose
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.settimeout(timeout)
        self.queue = []

    def send(self, data):
        if self.verbose:
            print("SEND", data, file=sys.stderr)
        self.sock.sendall(data.encode())

    def open(self):
        """Send a stream header; return the <stream:features/> element."""
        self.parser = ET.XMLPullParser(events=("start", "end"))
        self.depth = 0
        self.queue = []
        self.send(f"<?xml version='1.0'?><stream:stream to='{self.domain}' version='1.0' xml:lang='en' "
                  f"xmlns='jabber:client' xmlns:stream='{NS_STREAM}'>")
        return self.next()

    def next(self):
        """The next top-level element of the stream."""
        while not self.queue:
            data = self.sock.recv(65536)
            if not data:
                raise EOFError("connection closed")
            if self.verbose:
                print("RECV", data.decode(errors="replace"), file=sys.stderr)
            self.parser.feed(data)
            for ev, el in self.parser.read_events():
                if ev == "start":
                    self.depth += 1
                else:
                    self.depth -= 1
                    if self.depth == 1:
                        self.queue.append(el)
        return self.queue.pop(0)

    def iq(self, typ, payload):
        iid = uuid.uuid4().hex[:8]
        self.send(f"<iq type='{typ}' id='{iid}'>{payload}</iq>")
        while True:
            el = self.next()
            if el.tag == q("jabber:client", "iq") and el.get("id") == iid:
                return el

    def starttls(self):
        self.send(f"<starttls xmlns='{NS_TLS}'/>")
        el = self.next()
        if el.tag != q(NS_TLS, "proceed"):
            raise RuntimeError(f"STARTTLS refused: {el.tag}")
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        self.sock = ctx.wrap_socket(self.sock, server_hostname=self.domain)

    def close(self):
        try:
            self.send("</stream:stream>")
        except OSError:
            pass
        self.sock.close()


def error_condition(iq):
    err = iq.find(q("jabber:client", "error"))
    if iq.get("type") != "error" or err is None:
        return None
    for c in err:
        if c.tag.startswith("{" + NS_STANZAS + "}") and not c.tag.endswith("}text"):
            return c.tag.split("}", 1)[1]
    return "?"


def check(report, label, ok, detail):
    """A step whose detail is shown only when it failed."""
    return report.step(label, ok, "" if ok else detail)


def raw_register(args, report, user, password):
    """Pre-authentication registration over a raw stream; True if the account exists afterwards."""
    s = RawStream(args.host, args.port, args.domain, args.timeout, args.verbose)
    try:
        feats = s.open()
        check(report, "register feature offered before STARTTLS", feats.find(q(NS_REG_FEATURE, "register")) is not None,
                    ET.tostring(feats, encoding="unicode"))
        if feats.find(q(NS_TLS, "starttls")) is not None:
            s.starttls()
            feats = s.open()
            check(report, "register feature offered after STARTTLS", feats.find(q(NS_REG_FEATURE, "register")) is not None,
                        ET.tostring(feats, encoding="unicode"))
        res = s.iq("get", f"<query xmlns='{NS_REG}'/>")
        query = res.find(q(NS_REG, "query"))
        check(report, "iq get returns <username/> and <password/>",
                    res.get("type") == "result" and query is not None and query.find(q(NS_REG, "username")) is not None
                    and query.find(q(NS_REG, "password")) is not None, ET.tostring(res, encoding="unicode"))
        res = s.iq("set", f"<query xmlns='{NS_REG}'><username>{user}</username><password>{password}</password></query>")
        created = check(report, f"iq set registers {user}", res.get("type") == "result", ET.tostring(res, encoding="unicode"))
        res = s.iq("set", f"<query xmlns='{NS_REG}'><username>{user}</username><password>other-pass</password></query>")
        check(report, "the same username again: conflict", error_condition(res) == "conflict", ET.tostring(res, encoding="unicode"))
        res = s.iq("set", f"<query xmlns='{NS_REG}'><username>{user}x</username></query>")
        check(report, "no password: not-acceptable", error_condition(res) == "not-acceptable", ET.tostring(res, encoding="unicode"))
        return created
    except Exception as e:  # noqa: BLE001
        report.step("raw registration stream", False, f"{type(e).__name__}: {e}")
        return False
    finally:
        s.close()


async def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    args = p.parse_args()
    setup_logging(args)
    report = Report("register")
    user = "reg" + uuid.uuid4().hex[:10]
    first, second = "first-" + uuid.uuid4().hex[:8], "second-" + uuid.uuid4().hex[:8]

    if not await asyncio.to_thread(raw_register, args, report, user, first):
        return report.finish()

    acct = argparse.Namespace(**vars(args))
    acct.password = first
    c, err = await login(acct, user, mech="SCRAM-SHA-256", roster=False, presence=False)
    if not report.step("the new account logs in (SCRAM-SHA-256)", c is not None, err or ""):
        return report.finish()
    c.register_plugin("xep_0077")
    try:
        res = await c["xep_0077"].get_registration(timeout=args.timeout)
        check(report, "get after login: <registered/> with the username",
                    res["register"]["registered"] and res["register"]["username"] == user, str(res))
    except Exception as e:  # noqa: BLE001
        report.step("get after login", False, f"{type(e).__name__}: {e}")
    try:
        await c["xep_0077"].change_password(second, jid=args.domain, timeout=args.timeout)
        report.step("change_password (xep_0077)", True)
    except Exception as e:  # noqa: BLE001
        report.step("change_password (xep_0077)", False, f"{type(e).__name__}: {e}")
    await close_all([c])

    acct.password = first
    old, _ = await login(acct, user, mech="SCRAM-SHA-256", roster=False, presence=False)
    report.step("the old password is refused", old is None)
    acct.password = second
    c, err = await login(acct, user, mech="SCRAM-SHA-256", roster=False, presence=False)
    if not report.step("the new password logs in", c is not None, err or ""):
        await close_all([old])
        return report.finish()
    c.register_plugin("xep_0077")
    gone = asyncio.get_running_loop().create_future()
    c.add_event_handler("disconnected", lambda *_: gone.done() or gone.set_result(True))
    try:
        await c["xep_0077"].cancel_registration(timeout=args.timeout)
        report.step("cancel_registration (xep_0077): result", True)
    except Exception as e:  # noqa: BLE001
        report.step("cancel_registration (xep_0077): result", False, f"{type(e).__name__}: {e}")
    report.step("the server closes the stream after the cancellation", await wait(gone, args.timeout) is True)
    again, _ = await login(acct, user, mech="SCRAM-SHA-256", roster=False, presence=False)
    report.step("the cancelled account cannot log in", again is None)
    await close_all([again, old])
    return report.finish()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
