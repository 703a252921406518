"""Runs real Postfix and OpenDKIM with the gateway configuration mailinfra rendered, and sends
mail through it. Called by tests/mail_path.rs, which prepares the inputs from the emulator:

  run.py --rendered DIR --key FILE --dns FILE --work DIR > results.json

Built from the rendered files: main.cf's settings are applied with `postconf -e`, exactly as
the boot script applies them; opendkim.conf, KeyTable, SigningTable and TrustedHosts are used
as rendered. Substituted, because this is a test machine and not an EC2 instance (each is
named in the results):
  - the private key comes from the emulator's SSM (the boot script fetches it with the
    instance role); its path in KeyTable points into the work folder;
  - Postfix runs as a second instance (`postfix -c`), unchrooted, listening on the two test
    interfaces instead of `all`; OpenDKIM's port is a free one instead of 8891;
  - the next hop is a local SMTP server (plain and STARTTLS) reached through transport_maps,
    instead of the recipient's MX found in DNS.
Senders: an "inside" network namespace at 10.0.9.2 (inside relay_from 10.0.0.0/16) and an
"outside" one at 198.18.9.2 (neither relay_from nor loopback).
"""

import argparse
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import dkim
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

ID = str(os.getpid() % 100000)
NS_IN, NS_OUT = f"mi-in{ID}", f"mi-out{ID}"
V_IN, V_OUT = f"mii{ID}", f"mio{ID}"
GW_IN, SENDER_IN = "10.0.9.1", "10.0.9.2"
GW_OUT, SENDER_OUT = "198.18.9.1", "198.18.9.2"


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Sink:
    """A next hop that records HELO, whether STARTTLS was used, and each message."""

    def __init__(self, port, tls_context=None):
        self.messages = []
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.messages.append(
                    {
                        "helo": session.host_name,
                        "tls": session.ssl is not None,
                        "from": envelope.mail_from,
                        "to": envelope.rcpt_tos,
                        "data": envelope.content.decode("utf-8", "replace"),
                    }
                )
                return "250 OK"

        kw = {"require_starttls": False}
        if tls_context:
            kw["tls_context"] = tls_context
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="sink.test", **kw)
        self.controller.start()

    def stop(self):
        self.controller.stop()


def self_signed(work):
    cert, key = os.path.join(work, "sink.crt"), os.path.join(work, "sink.key")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=sink.test", "-days", "1", "-keyout", key, "-out", cert)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return ctx


def netns_up():
    for ns, veth, gw, sender in ((NS_IN, V_IN, GW_IN, SENDER_IN), (NS_OUT, V_OUT, GW_OUT, SENDER_OUT)):
        sh("ip", "netns", "add", ns)
        sh("ip", "link", "add", veth, "type", "veth", "peer", "name", f"{veth}p")
        sh("ip", "link", "set", f"{veth}p", "netns", ns)
        sh("ip", "addr", "add", f"{gw}/24", "dev", veth)
        sh("ip", "link", "set", veth, "up")
        sh("ip", "netns", "exec", ns, "ip", "addr", "add", f"{sender}/24", "dev", f"{veth}p")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", f"{veth}p", "up")
        sh("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up")


def netns_down():
    for ns, veth in ((NS_IN, V_IN), (NS_OUT, V_OUT)):
        sh("ip", "link", "del", veth, check=False)
        sh("ip", "netns", "del", ns, check=False)


def send(ns, mail_from, rcpt, subject):
    """Sends one message from inside a namespace; returns (accepted, smtp reply)."""
    body = f"From: <{mail_from}>\r\nTo: <{rcpt}>\r\nSubject: {subject}\r\nMessage-ID: <{subject}@mailinfra.test>\r\n\r\nhello from {subject}\r\n"
    code = (
        "import smtplib,sys\n"
        f"s=smtplib.SMTP({GW_IN if ns == NS_IN else GW_OUT!r},25,timeout=20)\n"
        "s.ehlo('client.test')\n"
        "try:\n"
        f"  s.sendmail({mail_from!r},[{rcpt!r}],{body!r}); print('ACCEPTED')\n"
        "except smtplib.SMTPRecipientsRefused as e:\n"
        "  print('REFUSED', list(e.recipients.values())[0][1].decode())\n"
        "s.quit()\n"
    )
    out = sh("ip", "netns", "exec", ns, sys.executable, "-c", code, check=False)
    text = (out.stdout + out.stderr).strip()
    return text.startswith("ACCEPTED"), text


def wait_for(pred, seconds):
    end = time.time() + seconds
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.2)
    return False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rendered", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--dns", required=True)
    p.add_argument("--work", required=True)
    a = p.parse_args()
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    dns = json.load(open(a.dns))
    results = {"substitutions": __doc__.split("Substituted")[1].split("Senders:")[0].strip(), "cases": {}}
    procs, sinks = [], []
    conf = os.path.join(work, "postfix")
    try:
        netns_up()
        plain_port, tls_port, milter_port = free_port(), free_port(), free_port()
        plain = Sink(plain_port)
        tls = Sink(tls_port, self_signed(work))
        sinks += [plain, tls]

        # OpenDKIM, from the rendered files.
        # OpenDKIM refuses a key under a directory others can write (RequireSafeKeys), such
        # as /tmp; /run is root's, as /etc/opendkim/keys is on the gateway.
        keydir = f"/run/mailinfra-mailpath-{ID}"
        os.makedirs(keydir, exist_ok=True)
        key_table = open(os.path.join(a.rendered, "KeyTable")).read()
        selector = key_table.split()[0].split("._domainkey")[0]
        key_path = os.path.join(keydir, f"{selector}.private")
        shutil.copy(a.key, key_path)
        shutil.chown(key_path, "opendkim", "opendkim")
        os.chmod(key_path, 0o600)
        os.chmod(keydir, 0o755)
        with open(os.path.join(work, "KeyTable"), "w") as f:
            f.write(key_table.replace(f"/etc/opendkim/keys/{selector}.private", key_path))
        for name in ("SigningTable", "TrustedHosts"):
            shutil.copy(os.path.join(a.rendered, name), os.path.join(work, name))
        dconf = open(os.path.join(a.rendered, "opendkim.conf")).read()
        dconf = dconf.replace("/etc/opendkim/", work + "/").replace("inet:8891@localhost", f"inet:{milter_port}@localhost")
        dconf = dconf.replace("/run/opendkim/opendkim.pid", os.path.join(work, "opendkim.pid")).replace("Syslog                  yes", "Syslog                  no")
        open(os.path.join(work, "opendkim.conf"), "w").write(dconf)
        for f in os.listdir(work):
            if f in ("KeyTable", "SigningTable", "TrustedHosts", "opendkim.conf"):
                os.chmod(os.path.join(work, f), 0o644)
        procs.append(subprocess.Popen(["opendkim", "-f", "-x", os.path.join(work, "opendkim.conf")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
        if not wait_for(lambda: _open(milter_port), 10):
            raise SystemExit("opendkim did not start: " + procs[-1].stdout.read(2000).decode())

        # Postfix, with the rendered main.cf settings applied by postconf -e, as the boot script does.
        os.makedirs(conf, exist_ok=True)
        shutil.copy("/usr/share/postfix/master.cf.dist", os.path.join(conf, "master.cf"))
        open(os.path.join(conf, "main.cf"), "w").write(
            f"compatibility_level = 3.6\nqueue_directory = {work}/spool\ndata_directory = {work}/data\n"
            f"mail_owner = postfix\nsetgid_group = postdrop\nmaillog_file_prefixes = {work}\nmaillog_file = {work}/maillog\n"
        )
        for line in open(os.path.join(a.rendered, "main.cf")):
            if line.strip():
                sh("postconf", "-c", conf, "-e", line.strip())
        transport = os.path.join(conf, "transport")
        open(transport, "w").write(f"example.net smtp:[127.0.0.1]:{plain_port}\ntls.example.net smtp:[127.0.0.1]:{tls_port}\nother.example smtp:[127.0.0.1]:{plain_port}\n")
        for setting in (
            f"inet_interfaces = {GW_IN}, {GW_OUT}",
            f"smtpd_milters = inet:localhost:{milter_port}",
            f"transport_maps = texthash:{transport}",
            "smtp_tls_CApath =",
            "alias_maps =",
            "alias_database =",
        ):
            sh("postconf", "-c", conf, "-e", setting)
        sh("postconf", "-c", conf, "-F", "*/*/chroot = n")
        sh("postconf", "-c", conf, "-M", "postlog/unix-dgram=postlog   unix-dgram n  -       n       -       1       postlogd")
        for d in ("spool", "data"):
            os.makedirs(os.path.join(work, d), exist_ok=True)
        shutil.chown(os.path.join(work, "data"), "postfix", "postfix")
        sh("postfix", "-c", conf, "set-permissions", "create-missing", check=False)
        start = sh("postfix", "-c", conf, "start", check=False)
        if start.returncode != 0:
            raise SystemExit("postfix did not start: " + start.stdout + start.stderr + _log(work))
        if not wait_for(lambda: _open(25, GW_IN), 15):
            raise SystemExit("postfix is not listening: " + _log(work))
        results["postfix_settings"] = sh("postconf", "-c", conf, "myhostname", "mynetworks", "smtpd_relay_restrictions", "smtp_tls_security_level").stdout

        cases = results["cases"]
        ok, reply = send(NS_IN, "app@example.com", "user@example.net", "inside-signed")
        cases["inside_accepted"] = {"accepted": ok, "reply": reply}
        ok, reply = send(NS_OUT, "spammer@example.com", "victim@example.net", "outside-relay")
        cases["outside_refused"] = {"accepted": ok, "reply": reply}
        ok, reply = send(NS_IN, "app@other.example", "user@example.net", "inside-other-domain")
        cases["other_domain_accepted"] = {"accepted": ok, "reply": reply}
        ok, reply = send(NS_IN, "app@example.com", "user@tls.example.net", "inside-tls")
        cases["tls_accepted"] = {"accepted": ok, "reply": reply}

        wait_for(lambda: len(plain.messages) >= 2 and len(tls.messages) >= 1, 30)

        def dnsfunc(name, timeout=5):
            key = name.decode() if isinstance(name, bytes) else name
            value = dns.get(key.rstrip("."))
            return value.encode() if value else b""

        def found(sink, subject):
            for m in sink.messages:
                if f"Subject: {subject}" in m["data"]:
                    return m
            return None

        for name, sink, subject in (("signed", plain, "inside-signed"), ("other", plain, "inside-other-domain"), ("tls", tls, "inside-tls")):
            m = found(sink, subject)
            entry = {"delivered": m is not None}
            if m:
                raw = m["data"].replace("\r\n", "\n").replace("\n", "\r\n").encode()
                sig = [l for l in m["data"].splitlines() if l.lower().startswith("dkim-signature:")]
                entry.update(
                    helo=m["helo"],
                    tls=m["tls"],
                    dkim_signature=sig[0] if sig else None,
                    dkim_valid=bool(sig) and dkim.verify(raw, dnsfunc=dnsfunc),
                )
            cases[f"relayed_{name}"] = entry
        results["maillog_tail"] = _log(work)[-2000:]
    finally:
        shutil.rmtree(f"/run/mailinfra-mailpath-{ID}", ignore_errors=True)
        sh("postfix", "-c", conf, "stop", check=False)
        for pr in procs:
            pr.terminate()
        for s in sinks:
            s.stop()
        netns_down()
    print(json.dumps(results, indent=2))


def _open(port, host="127.0.0.1"):
    try:
        socket.create_connection((host, port), 1).close()
        return True
    except OSError:
        return False


def _log(work):
    try:
        return open(os.path.join(work, "maillog")).read()
    except OSError:
        return ""


if __name__ == "__main__":
    main()
