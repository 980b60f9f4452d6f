"""Shared helpers of the slixmpp-based interop scripts (not a test itself).

Every script takes the same connection options (see add_common_args), prints
one "PASS  step" / "FAIL  step  -- detail" line per step, then
"<script>: N passed, N failed", and exits 0 only if every step passed.

Needs Debian's python3-slixmpp, i.e. /usr/bin/python3; reexec_with_system_python()
restarts the script with it when started by another interpreter (pyenv).
"""
import argparse
import asyncio
import logging
import os
import ssl
import sys


def reexec_with_system_python():
    """Debian's slixmpp lives in /usr/bin/python3's dist-packages only."""
    try:
        import slixmpp  # noqa: F401
    except ImportError:
        syspy = "/usr/bin/python3"
        if os.path.exists(syspy) and os.path.realpath(sys.executable) != os.path.realpath(syspy):
            os.execv(syspy, [syspy] + sys.argv)
        sys.exit("slixmpp is not importable: apt-get install -y python3-slixmpp, run with /usr/bin/python3")


reexec_with_system_python()

import slixmpp  # noqa: E402
from slixmpp import JID  # noqa: E402


def add_common_args(p: argparse.ArgumentParser):
    env = os.environ.get
    p.add_argument("--host", default=env("INTEROP_HOST", "127.0.0.1"), help="c2s host (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=int(env("INTEROP_PORT", "5222")), help="c2s port, STARTTLS optional")
    p.add_argument("--tls-port", type=int, default=int(env("INTEROP_TLS_PORT", "0")),
                   help="direct-TLS c2s port (XEP-0368); 0 = no direct-TLS steps")
    p.add_argument("--domain", default=env("INTEROP_DOMAIN", "localhost"))
    p.add_argument("--password", default=env("INTEROP_PASSWORD", "secret"), help="password of every test account")
    p.add_argument("--timeout", type=float, default=float(env("INTEROP_TIMEOUT", "10")),
                   help="seconds to wait for each expected event")
    p.add_argument("-v", "--verbose", action="store_true", help="slixmpp debug log (protocol trace) on stderr")


def setup_logging(args):
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.CRITICAL,
                        format="%(asctime)s %(levelname)-5s %(name)s: %(message)s", stream=sys.stderr)


class Report:
    """One PASS/FAIL line per step, a closing 'name: N passed, N failed' line."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failed = 0

    def step(self, label, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        print(f"{'PASS' if ok else 'FAIL'}  {label}" + (f"  -- {detail}" if detail else ""), flush=True)
        return bool(ok)

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {self.failed} failed", flush=True)
        return 0 if self.failed == 0 and self.passed > 0 else 1


class Client(slixmpp.ClientXMPP):
    """A slixmpp client for tests: futures for "session ready" and for expected stanzas.

    mech forces one SASL mechanism. Certificates are not verified (self-signed in
    dev). Subscription requests are never answered automatically, so the tests
    see the server's behaviour, not slixmpp's.
    """

    def __init__(self, jid, password, *, mech=None, roster=True, presence=True):
        super().__init__(jid, password, sasl_mech=mech)
        for p in ("xep_0030", "xep_0199", "xep_0203"):
            self.register_plugin(p)
        if mech == "PLAIN":
            # Explicitly asked for: allowed on plain TCP too (loopback dev servers).
            self["feature_mechanisms"].unencrypted_plain = True
        self.auto_authorize = None
        self.auto_subscribe = False
        self.ssl_context.check_hostname = False
        self.ssl_context.verify_mode = ssl.CERT_NONE
        self.want_roster = roster
        self.want_presence = presence
        self.error = None
        self.sasl_failures = []  # "MECH: condition (text)" per refused attempt
        self.add_event_handler("failed_auth", self._on_failed_auth)
        self.ready = asyncio.get_running_loop().create_future()
        self.add_event_handler("session_start", self._on_start)
        self.add_event_handler("failed_all_auth", lambda *_: self._fail("SASL authentication failed"))
        self.add_event_handler("connection_failed", lambda e: self._fail(f"connection failed: {e}"))
        self.add_event_handler("disconnected", lambda *_: self._fail("disconnected before session start"))
        self.add_event_handler("stream_error", lambda e: self._fail(f"stream error: {e['condition']} {e['text']}"))

    def _on_failed_auth(self, failure):
        text = failure["text"]
        self.sasl_failures.append(f"{self.mech_name}: {failure['condition']}" + (f" ({text})" if text else ""))

    def _fail(self, why):
        self.error = self.error or why
        if not self.ready.done():
            self.ready.set_exception(RuntimeError(why))

    async def _on_start(self, _event):
        try:
            if self.want_roster:
                # A resource that requested the roster is "interested" (RFC 6121 2.1.6)
                # and gets roster pushes.
                await self.get_roster(timeout=20)
            if self.want_presence:
                self.send_presence()
            if not self.ready.done():
                self.ready.set_result(True)
        except Exception as e:  # noqa: BLE001
            self._fail(f"session setup: {type(e).__name__}: {e}")

    @property
    def mech_name(self):
        m = getattr(self["feature_mechanisms"], "mech", None)
        return m.name if m else None

    @property
    def offered_mechs(self):
        return sorted(getattr(self["feature_mechanisms"], "mech_list", set()) or [])

    def expect(self, event, pred=lambda _s: True):
        """Future resolved with the first `event` stanza matching pred. Register before acting."""
        fut = asyncio.get_running_loop().create_future()

        def handler(stanza):
            try:
                if not fut.done() and pred(stanza):
                    fut.set_result(stanza)
            except Exception as e:  # noqa: BLE001 - a bad predicate must not kill the loop
                if not fut.done():
                    fut.set_exception(e)

        self.add_event_handler(event, handler)
        fut.add_done_callback(lambda _f: self.del_event_handler(event, handler))
        return fut

    def collect(self, event, pred=lambda _s: True):
        """List that receives every matching `event` stanza from now on."""
        got = []
        self.add_event_handler(event, lambda s: got.append(s) if pred(s) else None)
        return got


async def login(args, user, *, mech=None, starttls=False, direct_tls=False, resource="interop",
                roster=True, presence=True, before_connect=None):
    """Connect and authenticate; returns (client, error-string-or-None).

    before_connect(client) runs before connecting, to register expectations of
    stanzas that arrive right after the session starts (offline messages).
    """
    c = Client(f"{user}@{args.domain}/{resource}", args.password, mech=mech, roster=roster, presence=presence)
    if before_connect:
        before_connect(c)
    if direct_tls:
        c.connect(address=(args.host, args.tls_port), use_ssl=True, disable_starttls=True)
    else:
        c.connect(address=(args.host, args.port), disable_starttls=not starttls, force_starttls=starttls)
    try:
        await asyncio.wait_for(asyncio.shield(c.ready), args.timeout * 2)
        return c, None
    except asyncio.TimeoutError:
        err = c.error or f"no session within {args.timeout * 2:g}s"
    except Exception as e:  # noqa: BLE001
        err = str(e)
    c.cancel_connection_attempt()
    c.abort()
    tried = f"; refused: {'; '.join(c.sasl_failures)}" if c.sasl_failures else ""
    return None, f"{err} (offered: {', '.join(c.offered_mechs) or 'none seen'}{tried})"


async def wait(fut, timeout):
    """Result of fut, or None after timeout (the future is cancelled)."""
    try:
        return await asyncio.wait_for(fut, timeout)
    except asyncio.TimeoutError:
        return None


async def close_all(clients, timeout=5):
    """Close every stream (</stream:stream>, wait for the server's), abort after timeout."""
    futs = []
    for c in clients:
        if c is not None:
            try:
                futs.append(c.disconnect(wait=timeout))
            except Exception:  # noqa: BLE001
                pass
    if futs:
        await asyncio.wait(futs, timeout=timeout + 1)
