#!/usr/bin/python3
"""Interop: go-sendxmpp (Debian package go-sendxmpp) sends messages through an XMPP server.

    go_sendxmpp.py --host 127.0.0.1 --port 5222 [--tls-port 5223] --domain localhost \
        --password secret [--sender dave --receiver eve] [--timeout 10] [-v]

The receiver logs in with slixmpp (plain TCP) and waits; go-sendxmpp logs in as
the sender and sends a message to the receiver's bare JID:
  1. over STARTTLS on --port, certificate not verified (-n)
  2. over direct TLS (XEP-0368) on --tls-port, when it is given (-t -n)
Each step asserts go-sendxmpp's exit status 0 and the receiver getting the
exact body from the sender's JID. go-sendxmpp's debug trace (-d) is printed
when a step fails. Exit status 0 only when every step passed.
"""
import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
from xmpptest import JID, Report, add_common_args, close_all, login, setup_logging, wait

SENDXMPP = "go-sendxmpp"


async def send(args, label, r, receiver, extra, port, token):
    body = f"go-sendxmpp {label} {token}"
    fut = receiver.expect("message", lambda m: m["body"] == body)
    home = tempfile.mkdtemp(prefix="interop-sendxmpp-")  # no config file of the machine's user is read
    cmd = [SENDXMPP, "-d", "-u", f"{args.sender}@{args.domain}", "-p", args.password,
           "-j", f"{args.host}:{port}", "-n", "--timeout", str(int(args.timeout)), *extra,
           f"{args.receiver}@{args.domain}"]
    try:
        proc = await asyncio.create_subprocess_exec(
            *cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT, env={**os.environ, "HOME": home})
        try:
            out, _ = await asyncio.wait_for(proc.communicate(body.encode()), args.timeout * 3)
            rc = proc.returncode
        except asyncio.TimeoutError:
            proc.kill()
            out, _ = await proc.communicate()
            rc = f"killed after {args.timeout * 3:g}s"
        m = await wait(fut, args.timeout)
        ok = rc == 0 and m is not None and m["from"].bare == f"{args.sender}@{args.domain}"
        detail = f"exit {rc}, " + (f"received from {m['from']} type {m['type']}" if m else
                                   f"{args.receiver} got nothing within {args.timeout:g}s")
        r.step(f"go-sendxmpp {label}: {args.sender} -> {args.receiver}", ok, detail)
        if not ok:
            trace = out.decode(errors="replace").replace(args.password, "***")
            print("---- go-sendxmpp output (-d trace) ----\n" + trace[-6000:] + "\n---- end ----", flush=True)
    finally:
        shutil.rmtree(home, ignore_errors=True)


async def run(args):
    r = Report("go_sendxmpp")
    token = uuid.uuid4().hex[:8]
    if not shutil.which(SENDXMPP):
        r.step("go-sendxmpp installed", False, "not on PATH: apt-get install -y go-sendxmpp")
        return r.finish()
    receiver, err = await login(args, args.receiver, resource="listener", roster=False)
    if not r.step(f"receiver {args.receiver} logs in (slixmpp)", receiver is not None,
                  err or f"mechanism {receiver.mech_name}"):
        return r.finish()
    try:
        await send(args, "STARTTLS", r, receiver, [], args.port, token)
        if args.tls_port:
            await send(args, "direct TLS", r, receiver, ["-t"], args.tls_port, token)
    finally:
        await close_all([receiver])
    return r.finish()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_common_args(p)
    p.add_argument("--sender", default="dave")
    p.add_argument("--receiver", default="eve")
    args = p.parse_args()
    setup_logging(args)
    print(f"go_sendxmpp: {args.host}:{args.port} domain {args.domain}", flush=True)
    sys.exit(asyncio.run(run(args)))


if __name__ == "__main__":
    main()
