"""Runs real Postfix and OpenDKIM with the gateway configuration mailinfra rendered, and sends
mail through it. Called by tests/mail_path.rs, which prepares the inputs from the emulator:

  run.py --rendered DIR --key FILE --dns FILE --work DIR > results.json
  run.py --rendered DIR --rotation FILE --work DIR > results.json   (a DKIM key rotation)

The environment holds the emulator's endpoint and the test account's credentials
(AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), for the key fetch.

Built from the rendered files: main.cf's settings are applied with `postconf -e`, exactly as
the boot script applies them; opendkim.conf, KeyTable, SigningTable, TrustedHosts and the
Postfix tables (sender_access, header_checks) are used as rendered; the key fetch is the
rendered fetch-dkim-key script. Substituted, because this is a test machine and not an EC2
instance (each is named in the results):
  - the private key comes from the emulator's SSM (the boot script fetches it with the
    instance role); its path in KeyTable points into the work folder;
  - Postfix runs as a second instance (`postfix -c`), unchrooted, listening on the two test
    interfaces instead of `all`; OpenDKIM's port is a free one instead of 8891; the paths
    under /etc/postfix and /etc/opendkim point into the work folder;
  - the next hop is a local SMTP server (plain and STARTTLS) reached through transport_maps,
    instead of the recipient's MX found in DNS;
  - the key fetch runs with an `aws` command that makes the same SSM GetParameter call with
    boto3 against the emulator (no AWS CLI here), and a `sleep` that records the backoff
    instead of waiting it; its state folder and key path point into the work folder.
  - the bounce recorder runs once over the work folder's maillog (on the instance a systemd
    timer feeds it the journal) with an `aws` command that records the CloudWatch Logs calls
    and answers FilterLogEvents from a file; its table path points into the work folder, and
    MAIL_CONFIG names the test Postfix for its postmap and reload.
Senders: an "inside" network namespace at 10.0.N.2 (inside relay_from 10.0.0.0/16) and an
"outside" one at 198.18.N.2 (neither relay_from nor loopback), N from the process id so that
two runs on one machine do not share addresses.
"""

import argparse
import gzip
import json
import os
import pwd
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
import time

import dkim
from aiosmtpd.controller import Controller

ID = str(os.getpid() % 100000)
NS_IN, NS_OUT = f"mi-in{ID}", f"mi-out{ID}"
V_IN, V_OUT = f"mii{ID}", f"mio{ID}"
# A /24 of its own per run, so that two runs at once (other worktrees) do not route into each
# other's namespaces: inside relay_from 10.0.0.0/16, and outside it in 198.18.0.0/15.
NET = 10 + os.getpid() % 240
GW_IN, SENDER_IN = f"10.0.{NET}.1", f"10.0.{NET}.2"
GW_OUT, SENDER_OUT = f"198.18.{NET}.1", f"198.18.{NET}.2"
# Recipients the next hop refuses permanently, as a receiver refuses an unknown user.
REFUSED = ("nobody@example.net", "gone@example.com")


def sh(*args, check=True, **kw):
    return subprocess.run(list(args), check=check, capture_output=True, text=True, **kw)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Sink:
    """A next hop that records HELO, STARTTLS, the envelope, the time and each message; it
    refuses the REFUSED recipients with 550."""

    def __init__(self, port, tls_context=None):
        self.messages = []
        self.lock = threading.Lock()
        sink = self

        class Handler:
            async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
                if address.lower() in REFUSED:
                    return "550 5.1.1 <%s>: Recipient address rejected: User unknown" % address
                envelope.rcpt_tos.append(address)
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                with sink.lock:
                    sink.messages.append(
                        {
                            "helo": session.host_name,
                            "tls": session.ssl is not None,
                            "from": envelope.mail_from,
                            "to": envelope.rcpt_tos,
                            "at": time.time(),
                            "data": envelope.content.decode("utf-8", "replace"),
                        }
                    )
                return "250 OK"

        kw = {"require_starttls": False}
        if tls_context:
            kw["tls_context"] = tls_context
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=port, server_hostname="sink.test", **kw)
        self.controller.start()

    def find(self, pred):
        with self.lock:
            return [m for m in self.messages if pred(m)]

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


def message(mail_from, rcpt, subject, drop=()):
    """A message as an application writes it, without the headers named in `drop`."""
    headers = [
        ("From", f"App <{mail_from}>"),
        ("To", f"<{rcpt}>"),
        ("Subject", subject),
        ("Date", "Wed, 02 Dec 2026 10:00:00 +0000"),
        ("Message-ID", f"<{subject}@app.internal>"),
        # What an application host's own MTA adds: private names and addresses.
        ("Received", "from app1.internal (ip-10-0-1-5.ec2.internal [10.0.1.5]) by app1.internal (Postfix) with ESMTP id 4AB; Wed, 02 Dec 2026 10:00:00 +0000"),
    ]
    head = "".join(f"{k}: {v}\r\n" for k, v in headers if k not in drop)
    return f"{head}\r\nhello from {subject}\r\n"


def send(ns, mail_from, rcpt, body):
    """Sends one message from inside a namespace; returns (accepted, smtp reply)."""
    code = (
        "import smtplib,sys\n"
        f"s=smtplib.SMTP({GW_IN if ns == NS_IN else GW_OUT!r},25,timeout=30)\n"
        "s.ehlo('client.test')\n"
        "try:\n"
        f"  s.sendmail({mail_from!r},[{rcpt!r}],{body!r}); print('ACCEPTED')\n"
        "except smtplib.SMTPRecipientsRefused as e:\n"
        "  r=list(e.recipients.values())[0]; print('REFUSED', r[0], r[1].decode())\n"
        "except smtplib.SMTPResponseException as e:\n"
        "  print('REFUSED', e.smtp_code, e.smtp_error.decode())\n"
        "try:\n"
        "  s.quit()\n"
        "except Exception:\n"
        "  pass\n"
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


def header(data, name):
    """The first value of a header, unfolded, or None."""
    lines = data.replace("\r\n", "\n").split("\n\n", 1)[0].split("\n")
    for i, line in enumerate(lines):
        if line.lower().startswith(name.lower() + ":"):
            value = line.split(":", 1)[1]
            for cont in lines[i + 1 :]:
                if cont[:1] in (" ", "\t"):
                    value += cont
                else:
                    break
            return " ".join(value.split())
    return None


def dkim_tags(sig):
    tags = {}
    for part in (sig or "").replace(" ", "").split(";"):
        if "=" in part:
            k, v = part.split("=", 1)
            tags[k.strip()] = v.strip()
    return tags


class OpenDkim:
    """OpenDKIM from the rendered files, restartable (with or without its key)."""

    def __init__(self, rendered, key, work, port=None):
        self.work = work
        self.port = port or free_port()
        self.proc = None
        # OpenDKIM refuses a key under a directory others can write (RequireSafeKeys), such
        # as /tmp; /run is root's, as /etc/opendkim/keys is on the gateway.
        self.keydir = f"/run/mailinfra-mailpath-{ID}"
        os.makedirs(self.keydir, exist_ok=True)
        os.chmod(self.keydir, 0o755)
        key_table = open(os.path.join(rendered, "KeyTable")).read()
        selector = key_table.split()[0].split("._domainkey")[0]
        self.key_path = os.path.join(self.keydir, f"{selector}.private")
        self.rendered_key_path = f"/etc/opendkim/keys/{selector}.private"
        self.key = key
        self.install_key()
        with open(os.path.join(work, "KeyTable"), "w") as f:
            f.write(key_table.replace(self.rendered_key_path, self.key_path))
        for name in ("SigningTable", "TrustedHosts"):
            shutil.copy(os.path.join(rendered, name), os.path.join(work, name))
        conf = open(os.path.join(rendered, "opendkim.conf")).read()
        conf = conf.replace("/etc/opendkim/", work + "/").replace("inet:8891@localhost", f"inet:{self.port}@localhost")
        conf = conf.replace("/run/opendkim/opendkim.pid", os.path.join(work, "opendkim.pid")).replace("Syslog                  yes", "Syslog                  no")
        self.conf = os.path.join(work, "opendkim.conf")
        open(self.conf, "w").write(conf)
        for f in ("KeyTable", "SigningTable", "TrustedHosts", "opendkim.conf"):
            os.chmod(os.path.join(work, f), 0o644)

    def install_key(self):
        shutil.copy(self.key, self.key_path)
        shutil.chown(self.key_path, "opendkim", "opendkim")
        os.chmod(self.key_path, 0o600)

    def remove_key(self):
        os.remove(self.key_path)

    def start(self):
        self.proc = subprocess.Popen(["opendkim", "-f", "-x", self.conf], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if not wait_for(lambda: _open(self.port), 10):
            raise SystemExit("opendkim did not start: " + self.proc.stdout.read(2000).decode())

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(10)
            self.proc = None
        wait_for(lambda: not _open(self.port), 10)


def fetch_cases(rendered, work, key):
    """The rendered key fetch: retried with backoff and visible when it fails; installed with
    OpenDKIM's owner and mode 0600 when it succeeds."""
    script = open(os.path.join(rendered, "fetch-dkim-key")).read()
    key_path = script.split("KEY_PATH='", 1)[1].split("'", 1)[0]
    parameter = script.split("KEY_PARAMETER='", 1)[1].split("'", 1)[0]
    bindir = os.path.join(work, "fetch-bin")
    os.makedirs(bindir, exist_ok=True)
    # `aws ssm get-parameter --region R --name N --with-decryption --query Parameter.Value
    # --output text`, the call the script makes, with boto3 against the emulator.
    open(os.path.join(bindir, "aws"), "w").write(
        f"#!{sys.executable}\n"
        "import sys, boto3, botocore\n"
        "a = sys.argv[1:]\n"
        "assert a[:2] == ['ssm', 'get-parameter'], a\n"
        "opt = lambda n: a[a.index(n) + 1]\n"
        "assert '--with-decryption' in a and opt('--query') == 'Parameter.Value' and opt('--output') == 'text', a\n"
        "try:\n"
        "    p = boto3.client('ssm', region_name=opt('--region')).get_parameter(Name=opt('--name'), WithDecryption=True)\n"
        "except botocore.exceptions.ClientError as e:\n"
        "    print(f'\\nAn error occurred ({e.response[\"Error\"][\"Code\"]}) when calling the GetParameter operation: {e.response[\"Error\"][\"Message\"]}', file=sys.stderr)\n"
        "    sys.exit(254)\n"
        "print(p['Parameter']['Value'])\n"
    )
    open(os.path.join(bindir, "sleep"), "w").write(f"#!/bin/sh\necho \"$1\" >> {bindir}/slept\n")
    for f in ("aws", "sleep"):
        os.chmod(os.path.join(bindir, f), 0o755)
    env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"])
    results = {}
    # systemd reads Debian's opendkim.service with the rendered drop-in beside it; the
    # ExecStartPre path points at a copy of the rendered script (the same text).
    unit_dir = os.path.join(work, "units")
    os.makedirs(os.path.join(unit_dir, "opendkim.service.d"), exist_ok=True)
    shutil.copy("/lib/systemd/system/opendkim.service", unit_dir)
    installed = os.path.join(work, "mailinfra-fetch-dkim-key")
    shutil.copy(os.path.join(rendered, "fetch-dkim-key"), installed)
    os.chmod(installed, 0o755)
    drop_in = open(os.path.join(rendered, "opendkim-drop-in.conf")).read()
    open(os.path.join(unit_dir, "opendkim.service.d", "mailinfra.conf"), "w").write(drop_in.replace("/usr/local/sbin/mailinfra-fetch-dkim-key", installed))
    verify = sh("systemd-analyze", "verify", os.path.join(unit_dir, "opendkim.service"), check=False)
    results["unit"] = {"exit": verify.returncode, "output": (verify.stdout + verify.stderr).strip(), "drop_in": drop_in}
    for case, param in (("failed", parameter + "-missing"), ("fetched", parameter)):
        state = os.path.join(work, f"fetch-{case}-state")
        keydir = f"/run/mailinfra-mailpath-{ID}-fetch-{case}"
        os.makedirs(keydir, exist_ok=True)
        path = os.path.join(keydir, os.path.basename(key_path))
        body = script.replace(f"KEY_PARAMETER='{parameter}'", f"KEY_PARAMETER='{param}'")
        body = body.replace(f"KEY_PATH='{key_path}'", f"KEY_PATH='{path}'").replace("STATE_DIR='/var/lib/mailinfra'", f"STATE_DIR='{state}'")
        runnable = os.path.join(work, f"fetch-{case}.sh")
        open(runnable, "w").write(body)
        try:
            os.remove(os.path.join(bindir, "slept"))
        except OSError:
            pass
        run = subprocess.run(["bash", runnable], capture_output=True, text=True, env=env, timeout=120)
        slept = open(os.path.join(bindir, "slept")).read().split() if os.path.exists(os.path.join(bindir, "slept")) else []
        entry = {"exit": run.returncode, "stderr": run.stderr[-3000:], "stdout": run.stdout[-1000:], "slept": slept, "state": {}}
        if os.path.isdir(state):
            for f in sorted(os.listdir(state)):
                entry["state"][f] = open(os.path.join(state, f)).read()
        if os.path.exists(path):
            st = os.stat(path)
            entry["key"] = {
                "same_as_ssm": open(path).read().strip() == open(key).read().strip(),
                "mode": oct(stat.S_IMODE(st.st_mode)),
                "owner": pwd.getpwuid(st.st_uid).pw_name,
            }
        results[case] = entry
        shutil.rmtree(keydir, ignore_errors=True)
    return results


STUB_AWS = """#!{python}
# Stands in for the AWS CLI: records each call, answers FilterLogEvents from a file.
import json, sys
open({calls!r}, "a").write(json.dumps(sys.argv[1:]) + "\\n")
if "filter-log-events" in sys.argv:
    print(open({events!r}).read())
"""


def bounce_cases(rendered, work, conf, case):
    """The rendered bounce recorder: `record` over the delivery log, then a relay to a
    recorded address, then `restore` (a replacement instance's boot) from what was sent."""
    stub = os.path.join(work, "stub-bin")
    os.makedirs(stub, exist_ok=True)
    calls, events = os.path.join(work, "aws-calls.jsonl"), os.path.join(work, "aws-events.json")
    aws = os.path.join(stub, "aws")
    open(aws, "w").write(STUB_AWS.format(python=sys.executable, calls=calls, events=events))
    os.chmod(aws, 0o755)
    script = os.path.join(work, "record-bounces")
    open(script, "w").write(open(os.path.join(rendered, "record-bounces")).read().replace("/etc/postfix/", conf + "/"))
    table = os.path.join(conf, "mailinfra", "bounced")
    env = dict(os.environ, PATH=stub + ":" + os.environ["PATH"], MAILINFRA_STATE_DIR=work, MAIL_CONFIG=conf)
    rec = subprocess.run([sys.executable, script, "record"], input=_log(work), env=env, capture_output=True, text=True)
    out = {"record": {"exit": rec.returncode, "stdout": rec.stdout, "stderr": rec.stderr}}
    out["calls"] = [json.loads(l) for l in open(calls)] if os.path.exists(calls) else []
    out["table"] = open(table).read() if os.path.exists(table) else None
    case("suppressed", NS_IN, "app@example.com", REFUSED[0], message("app@example.com", REFUSED[0], "inside-suppressed"))
    sent = []
    for c in out["calls"]:
        if "put-log-events" in c:
            sent += json.loads(c[c.index("--log-events") + 1])
    open(events, "w").write(json.dumps({"events": [{"message": e["message"]} for e in sent]}))
    for f in (table, table + ".db"):
        if os.path.exists(f):
            os.remove(f)
    res = subprocess.run([sys.executable, script, "restore"], env=env, capture_output=True, text=True)
    out["restore"] = {"exit": res.returncode, "stderr": res.stderr}
    out["restored_table"] = open(table).read() if os.path.exists(table) else None
    return out
def health_case(rendered, work, conf, milter_port, label, state_files):
    """The rendered health report, run against this Postfix and OpenDKIM. Substituted: its
    state and cloud-init directories, Postfix's configuration directory and the milter port;
    `aws` is a stub that records the put-parameter call (the report is what it would write)."""
    script = open(os.path.join(rendered, "report-health")).read()
    cloud = os.path.join(work, "cloud")
    os.makedirs(os.path.join(cloud, "data"), exist_ok=True)
    os.makedirs(os.path.join(cloud, "instance"), exist_ok=True)
    open(os.path.join(cloud, "data", "instance-id"), "w").write("i-0mailpath\n")
    # As cloud-init keeps it: the user data mailinfra sent, gzip-compressed.
    open(os.path.join(cloud, "instance", "user-data.txt"), "wb").write(
        gzip.compress(open(os.path.join(rendered, "boot.sh"), "rb").read()))
    state = os.path.join(work, f"health-{label}-state")
    os.makedirs(state, exist_ok=True)
    for name, body in state_files.items():
        open(os.path.join(state, name), "w").write(body)
    body = script
    for old, new in (
        ("STATE_DIR='/var/lib/mailinfra'", f"STATE_DIR='{state}'"),
        ("CLOUD_DIR='/var/lib/cloud'", f"CLOUD_DIR='{cloud}'"),
        ("POSTFIX_CONFIG=''", f"POSTFIX_CONFIG='{conf}'"),
        ("MILTER_PORT='8891'", f"MILTER_PORT='{milter_port}'"),
    ):
        if old not in body:
            raise SystemExit(f"report-health has no `{old}` to substitute")
        body = body.replace(old, new)
    bindir = os.path.join(work, f"health-{label}-bin")
    os.makedirs(bindir, exist_ok=True)
    record = os.path.join(bindir, "put.json")
    open(os.path.join(bindir, "aws"), "w").write(
        f"#!{sys.executable}\nimport json, sys\njson.dump(sys.argv[1:], open({record!r}, 'w'))\n"
    )
    os.chmod(os.path.join(bindir, "aws"), 0o755)
    runnable = os.path.join(work, f"report-health-{label}.sh")
    open(runnable, "w").write(body)
    env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"])
    run = subprocess.run(["bash", runnable], capture_output=True, text=True, env=env, timeout=60)
    entry = {"exit": run.returncode, "stderr": run.stderr[-2000:], "stdout": run.stdout[-2000:]}
    if os.path.exists(record):
        args = json.load(open(record))
        entry["args"] = args
        entry["report"] = json.loads(args[args.index("--value") + 1])
    entry["queue"] = sh("postqueue", "-c", conf, "-j", check=False).stdout
    return entry


class StandIn:
    """Stands in for Amazon SES's SMTP endpoint on ADDR:587: STARTTLS with `cert`, AUTH
    required (after TLS) and checked against `user` and the password the tests' own Python
    derivation gives for `secret` in `region` (ses_smtp.py). It records every AUTH and MAIL
    attempt with whether TLS was on, so mail sent in clear would show. `tls=False` offers no
    STARTTLS and takes AUTH and mail in clear: a client that sends without TLS is caught."""

    def __init__(self, addr, cert, user, secret, region, tls=True):
        from ses_smtp import smtp_password

        self.events = []
        self.messages = []
        expected = (user, smtp_password(secret, region))
        me = self

        def authenticator(server, session, envelope, mechanism, auth_data):
            from aiosmtpd.smtp import AuthResult

            login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
            password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
            ok = (login, password) == expected
            me.events.append({"event": "auth", "mechanism": mechanism, "login": login, "tls": session.ssl is not None, "ok": ok})
            # handled=False: aiosmtpd answers a refusal with 535 5.7.8 itself.
            return AuthResult(success=ok, handled=False)

        class Handler:
            async def handle_MAIL(self, server, session, envelope, address, mail_options):
                me.events.append({"event": "mail", "tls": session.ssl is not None, "authenticated": bool(session.authenticated)})
                envelope.mail_from = address
                return "250 OK"

            async def handle_DATA(self, server, session, envelope):
                me.messages.append(
                    {
                        "helo": session.host_name,
                        "tls": session.ssl is not None,
                        "tls_version": (session.ssl or {}).get("version") if isinstance(session.ssl, dict) else None,
                        "authenticated": bool(session.authenticated),
                        "from": envelope.mail_from,
                        "to": envelope.rcpt_tos,
                        "data": envelope.content.decode("utf-8", "replace"),
                    }
                )
                return "250 Ok 0102018f-stand-in"

        kw = {"auth_required": True, "authenticator": authenticator, "server_hostname": "stand-in.test"}
        if tls:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(*cert)
            kw.update(tls_context=ctx, require_starttls=True, auth_require_tls=True)
        else:
            kw.update(auth_require_tls=False)
        self.controller = Controller(Handler(), hostname=addr, port=587, **kw)
        self.controller.start()

    def stop(self):
        self.controller.stop()


def test_ca(work, name):
    """A test CA and a certificate it signs for `name` (the SES endpoint), plus a self-signed
    one for the same name that no trusted CA signed."""
    ca_key, ca_crt = os.path.join(work, "ca.key"), os.path.join(work, "ca.crt")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=mailinfra test CA", "-days", "1", "-keyout", ca_key, "-out", ca_crt)
    key, csr, crt = (os.path.join(work, f"endpoint.{x}") for x in ("key", "csr", "crt"))
    sh("openssl", "req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-keyout", key, "-out", csr)
    ext = os.path.join(work, "endpoint.ext")
    open(ext, "w").write(f"subjectAltName=DNS:{name}\nextendedKeyUsage=serverAuth\n")
    sh("openssl", "x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key, "-CAcreateserial", "-days", "1", "-extfile", ext, "-out", crt)
    rogue_key, rogue_crt = os.path.join(work, "rogue.key"), os.path.join(work, "rogue.crt")
    sh("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}", "-days", "1", "-keyout", rogue_key, "-out", rogue_crt)
    return ca_crt, (crt, key), (rogue_crt, rogue_key)


def deferred(queue, rcpt):
    """The reason `postqueue -p` gives for the message to `rcpt` (the `(...)` line above the
    recipient), or None while it has none (not tried yet)."""
    lines = queue.splitlines()
    for i, line in enumerate(lines):
        if line.strip() == rcpt and i and lines[i - 1].strip().startswith("("):
            return lines[i - 1].strip().strip("()")
    return None


def ses_main(a):
    """The gateway relaying through Amazon SES (`relay_via: ses`), with a stand-in for the
    SES endpoint. Substituted here (named in the results): the endpoint's name resolves, in
    Postfix's own mount namespace, to a loopback address where the stand-in listens on 587
    (an /etc/hosts bound over the real one; `smtp_host_lookup = native` so Postfix reads it);
    `smtp_tls_CAfile` is the test CA instead of Debian's bundle; the credentials come from
    the emulator's SSM through the rendered fetch script (with the boto3 `aws` command); paths
    under /etc/postfix point into the work folder. Everything else is main.cf as rendered."""
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    results = {"substitutions": ses_main.__doc__.split("Substituted here (named in the results): ")[1].strip(), "cases": {}}
    conf = os.path.join(work, "postfix")
    rendered_cf = [l.strip() for l in open(os.path.join(a.rendered, "main.cf")) if l.strip()]
    relayhost = next(l.split("=", 1)[1].strip() for l in rendered_cf if l.startswith("relayhost ="))
    endpoint = relayhost.split("]")[0].lstrip("[")
    region = endpoint.split(".")[1]
    addr = f"127.87.{(os.getpid() >> 8) % 250 + 1}.{os.getpid() % 250 + 1}"
    hosts = os.path.join(work, "hosts")
    open(hosts, "w").write(f"127.0.0.1 localhost\n{addr} {endpoint}\n")
    os.chmod(hosts, 0o644)
    ca_crt, good_cert, rogue_cert = test_ca(work, endpoint)
    standin = None
    cases = results["cases"]
    try:
        # The rendered credentials fetch, against the emulator's SSM, writes the SASL map.
        script = open(os.path.join(a.rendered, "fetch-ses-credentials")).read()
        map_path = script.split("MAP_PATH='", 1)[1].split("'", 1)[0]
        local_map = map_path.replace("/etc/postfix/", conf + "/")
        bindir = os.path.join(work, "fetch-bin")
        os.makedirs(bindir, exist_ok=True)
        open(os.path.join(bindir, "aws"), "w").write(
            f"#!{sys.executable}\n"
            "import sys, boto3\n"
            "a = sys.argv[1:]\n"
            "assert a[:2] == ['ssm', 'get-parameter'] and '--with-decryption' in a, a\n"
            "opt = lambda n: a[a.index(n) + 1]\n"
            "print(boto3.client('ssm', region_name=opt('--region')).get_parameter(Name=opt('--name'), WithDecryption=True)['Parameter']['Value'])\n"
        )
        os.chmod(os.path.join(bindir, "aws"), 0o755)
        body = script.replace(f"MAP_PATH='{map_path}'", f"MAP_PATH='{local_map}'").replace("STATE_DIR='/var/lib/mailinfra'", f"STATE_DIR='{work}/state'")
        runnable = os.path.join(work, "fetch-ses-credentials.sh")
        open(runnable, "w").write(body)
        env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"])
        run = subprocess.run(["bash", runnable], capture_output=True, text=True, env=env, timeout=120)
        st = os.stat(local_map) if os.path.exists(local_map) else None
        results["fetch"] = {
            "exit": run.returncode,
            "output": (run.stdout + run.stderr)[-2000:],
            "map_mode": oct(stat.S_IMODE(st.st_mode)) if st else None,
            "map_owner": pwd.getpwuid(st.st_uid).pw_name if st else None,
            "map_next_hop": open(local_map).read().split(" ", 1)[0] if st else None,
        }

        # systemd reads Debian's Postfix instance unit with the rendered drop-in beside it (its
        # ExecStartPre pointing at a copy of the rendered fetch script).
        unit_dir = os.path.join(work, "units")
        os.makedirs(os.path.join(unit_dir, "postfix@-.service.d"), exist_ok=True)
        shutil.copy("/lib/systemd/system/postfix@.service", unit_dir)
        installed = os.path.join(work, "mailinfra-fetch-ses-credentials")
        shutil.copy(os.path.join(a.rendered, "fetch-ses-credentials"), installed)
        os.chmod(installed, 0o755)
        drop_in = open(os.path.join(a.rendered, "postfix-drop-in.conf")).read()
        open(os.path.join(unit_dir, "postfix@-.service.d", "mailinfra.conf"), "w").write(drop_in.replace("/usr/local/sbin/mailinfra-fetch-ses-credentials", installed))
        verify = sh("systemd-analyze", "verify", os.path.join(unit_dir, "postfix@-.service"), check=False)
        results["unit"] = {"exit": verify.returncode, "output": (verify.stdout + verify.stderr).strip(), "drop_in": drop_in}

        netns_up()
        os.makedirs(conf, exist_ok=True)
        shutil.copy("/usr/share/postfix/master.cf.dist", os.path.join(conf, "master.cf"))
        open(os.path.join(conf, "main.cf"), "w").write(
            f"compatibility_level = 3.6\nqueue_directory = {work}/spool\ndata_directory = {work}/data\n"
            f"mail_owner = postfix\nsetgid_group = postdrop\nmaillog_file_prefixes = {work}\nmaillog_file = {work}/maillog\n"
        )
        tables = os.path.join(conf, "mailinfra")
        os.makedirs(tables, exist_ok=True)
        for name in ("sender_access", "header_checks"):
            shutil.copy(os.path.join(a.rendered, name), os.path.join(tables, name))
        for line in rendered_cf:
            sh("postconf", "-c", conf, "-e", line.replace("/etc/postfix/", conf + "/"))
        for setting in (
            f"inet_interfaces = {GW_IN}, {GW_OUT}",
            f"smtp_tls_CAfile = {ca_crt}",
            "smtp_tls_CApath =",
            "smtp_host_lookup = native",
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
        results["postfix_settings"] = sh("postconf", "-c", conf, "-n").stdout

        def postfix_start():
            # In a mount namespace of its own, where /etc/hosts names the stand-in: Postfix
            # (and only Postfix) finds the SES endpoint on loopback. Refuses to go on if the
            # name would resolve anywhere else (the real SES).
            start = sh("unshare", "--mount", "--propagation", "private", "sh", "-c",
                       f"mount --bind {hosts} /etc/hosts && getent hosts {endpoint} | grep -q '^{addr} ' && postfix -c {conf} start", check=False)
            if start.returncode != 0:
                raise SystemExit("postfix did not start: " + start.stdout + start.stderr + _log(work))
            if not wait_for(lambda: _open(25, GW_IN), 15):
                raise SystemExit("postfix is not listening: " + _log(work))

        def postfix_stop():
            sh("postfix", "-c", conf, "stop", check=False)
            wait_for(lambda: not _open(25, GW_IN), 15)

        def queue():
            return sh("postqueue", "-c", conf, "-p", check=False).stdout

        def case(name, standin_kw, rcpt, subject, expect_delivery, drop=()):
            nonlocal standin
            postfix_start()
            standin = StandIn(addr, **standin_kw)
            ok, reply = send(NS_IN, "app@example.com", rcpt, message("app@example.com", rcpt, subject, drop))
            entry = {"accepted": ok, "reply": reply}
            if expect_delivery:
                wait_for(lambda: any(header(m["data"], "Subject") == subject for m in standin.messages), 30)
            else:
                # Deferred: the recipient is in the queue with the reason.
                wait_for(lambda: deferred(queue(), rcpt), 30)
            found = [m for m in standin.messages if header(m["data"], "Subject") == subject]
            entry["delivered"] = bool(found)
            if found:
                m = found[0]
                head = m["data"].replace("\r\n", "\n").split("\n\n", 1)[0]
                entry.update(
                    helo=m["helo"], tls=m["tls"], authenticated=m["authenticated"], mail_from=m["from"], to=m["to"],
                    headers=head, message_id=header(m["data"], "Message-ID"), date=header(m["data"], "Date"),
                    dkim_signature=header(m["data"], "DKIM-Signature"),
                    internal_names=[n for n in (SENDER_IN, "10.0.1.5", "app1.internal", "client.test") if n in head],
                )
            entry["events"] = list(standin.events)
            q = queue()
            entry["queued"] = rcpt in q
            entry["deferred_because"] = deferred(q, rcpt)
            entry["queue"] = q[-1500:]
            standin.stop()
            standin = None
            postfix_stop()
            cases[name] = entry

        cert = {"cert": good_cert, "user": a.ses_user, "secret": a.ses_secret, "region": region}
        case("relayed", cert, "user@example.net", "ses-relayed", True)
        # The rules of direct mode hold (Postfix is running for these: start it once more).
        postfix_start()
        for name, ns, mail_from, rcpt, body in (
            ("outside_refused", NS_OUT, "spammer@example.com", "victim@example.net", message("spammer@example.com", "victim@example.net", "ses-outside")),
            ("other_domain_refused", NS_IN, "app@other.example", "user@example.net", message("app@other.example", "user@example.net", "ses-other-domain")),
            ("other_from_refused", NS_IN, "app@example.com", "user@example.net", message("someone@gmail.com", "user@example.net", "ses-other-from")),
        ):
            ok, reply = send(ns, mail_from, rcpt, body)
            cases[name] = {"accepted": ok, "reply": reply}
        postfix_stop()
        case("bare", cert, "user2@example.net", "ses-bare", True, drop=("Message-ID", "Date"))
        case("wrong_password", dict(cert, secret=a.ses_secret + "-rotated"), "wrong-password@example.net", "ses-wrong-password", False)
        case("untrusted_certificate", dict(cert, cert=rogue_cert), "untrusted@example.net", "ses-untrusted", False)
        case("no_starttls", dict(cert, tls=False), "cleartext@example.net", "ses-cleartext", False)
        results["maillog_tail"] = _log(work)[-6000:]
    finally:
        if standin:
            standin.stop()
        sh("postfix", "-c", conf, "stop", check=False)
        netns_down()
    print(json.dumps(results, indent=2))


def start_postfix(rendered, work, conf, milter_port, plain_port, tls_port):
    """Postfix as a second instance in `conf`, with the rendered main.cf settings applied by
    postconf -e as the boot script does, OpenDKIM at `milter_port`, and the test next hops.
    Returns what `postfix check` said."""
    # Postfix, with the rendered main.cf settings applied by postconf -e, as the boot script does.
    os.makedirs(conf, exist_ok=True)
    shutil.copy("/usr/share/postfix/master.cf.dist", os.path.join(conf, "master.cf"))
    open(os.path.join(conf, "main.cf"), "w").write(
        f"compatibility_level = 3.6\nqueue_directory = {work}/spool\ndata_directory = {work}/data\n"
        f"mail_owner = postfix\nsetgid_group = postdrop\nmaillog_file_prefixes = {work}\nmaillog_file = {work}/maillog\n"
    )
    tables = os.path.join(conf, "mailinfra")
    os.makedirs(tables, exist_ok=True)
    for name in ("sender_access", "header_checks"):
        if os.path.exists(os.path.join(rendered, name)):
            shutil.copy(os.path.join(rendered, name), os.path.join(tables, name))
    for line in open(os.path.join(rendered, "main.cf")):
        if line.strip():
            sh("postconf", "-c", conf, "-e", line.strip().replace("/etc/postfix/", conf + "/"))
    # The hard-bounce table starts empty, as the boot script makes it.
    bounced = os.path.join(tables, "bounced")
    open(bounced, "w").close()
    sh("postmap", "-c", conf, bounced)
    transport = os.path.join(conf, "transport")
    open(transport, "w").write(
        f"example.net smtp:[127.0.0.1]:{plain_port}\nexample.com smtp:[127.0.0.1]:{plain_port}\n"
        f"example.org smtp:[127.0.0.1]:{plain_port}\nslow.example smtp:[127.0.0.1]:{plain_port}\n"
        f"tls.example.net smtp:[127.0.0.1]:{tls_port}\n"
        # Nobody listens there: mail to it stays deferred in the queue.
        f"down.example smtp:[127.0.0.1]:{free_port()}\n"
    )
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
    check = sh("postfix", "-c", conf, "check", check=False)
    start = sh("postfix", "-c", conf, "start", check=False)
    if start.returncode != 0:
        raise SystemExit("postfix did not start: " + start.stdout + start.stderr + _log(work))
    if not wait_for(lambda: _open(25, GW_IN), 15):
        raise SystemExit("postfix is not listening: " + _log(work))
    return (check.stdout + check.stderr).strip()


def rotation_main(a):
    """A DKIM key rotation through real Postfix and OpenDKIM: one Postfix, and for each signer
    in turn (the OpenDKIM files and key the gateway ran at one stage of the rotation; Postfix
    from --rendered, which no stage changes) OpenDKIM
    restarted with it and one message relayed. Each delivered signature is verified by dkimpy
    against every DNS snapshot given (what Route 53 held at each stage)."""
    spec = json.load(open(a.rotation))
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    conf = os.path.join(work, "postfix")
    results = {"messages": []}
    sink, opendkim = None, None
    try:
        netns_up()
        plain_port = free_port()
        sink = Sink(plain_port)
        milter_port = free_port()
        for i, signer in enumerate(spec["signers"]):
            if opendkim:
                opendkim.stop()
            signer_work = os.path.join(work, f"opendkim-{i}")
            os.makedirs(signer_work, exist_ok=True)
            os.chmod(signer_work, 0o755)
            opendkim = OpenDkim(signer["rendered"], signer["key"], signer_work, milter_port)
            opendkim.start()
            if i == 0:
                start_postfix(a.rendered, work, conf, milter_port, plain_port, free_port())
            subject = f"rotation-{i}"
            ok, reply = send(NS_IN, "app@example.com", "user@example.net", message("app@example.com", "user@example.net", subject))
            if not ok:
                raise SystemExit(f"message {i} refused: {reply}\n" + _log(work))
            if not wait_for(lambda: sink.find(lambda m: header(m["data"], "Subject") == subject), 60):
                raise SystemExit(f"message {i} was not delivered\n" + _log(work)[-3000:])
            m = sink.find(lambda m: header(m["data"], "Subject") == subject)[0]
            raw = m["data"].replace("\r\n", "\n").replace("\n", "\r\n").encode()
            sig = header(m["data"], "DKIM-Signature") or ""
            tags = dkim_tags(sig)
            valid = {}
            for snapshot in spec["dns"]:
                records = snapshot["records"]

                def dnsfunc(name, timeout=5, records=records):
                    key = name.decode() if isinstance(name, bytes) else name
                    value = records.get(key.rstrip("."))
                    return value.encode() if value else b""

                valid[snapshot["label"]] = bool(sig) and dkim.verify(raw, dnsfunc=dnsfunc)
            results["messages"].append({"signer": i, "s": tags.get("s"), "d": tags.get("d"), "valid": valid})
        results["maillog_tail"] = _log(work)[-3000:]
    finally:
        shutil.rmtree(f"/run/mailinfra-mailpath-{ID}", ignore_errors=True)
        sh("postfix", "-c", conf, "stop", check=False)
        if opendkim:
            opendkim.stop()
        if sink:
            sink.stop()
        netns_down()
    print(json.dumps(results, indent=2))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--rendered", required=True)
    p.add_argument("--key")
    p.add_argument("--dns")
    p.add_argument("--work", required=True)
    # relay_via: ses: the SMTP user name (access key id) and the IAM secret access key the
    # stand-in derives the expected password from.
    p.add_argument("--ses-user")
    p.add_argument("--ses-secret")
    # A DKIM key rotation: a JSON file naming the signers (rendered files and key) in turn and
    # the DNS snapshots to verify each message against (rotation_main).
    p.add_argument("--rotation")
    a = p.parse_args()
    if a.ses_secret:
        return ses_main(a)
    if a.rotation:
        return rotation_main(a)
    work = os.path.abspath(a.work)
    os.makedirs(work, exist_ok=True)
    os.chmod(work, 0o755)
    dns = json.load(open(a.dns))
    results = {"substitutions": __doc__.split("Substituted")[1].split("Senders:")[0].strip(), "cases": {}}
    sinks = []
    opendkim = None
    conf = os.path.join(work, "postfix")
    try:
        if os.path.exists(os.path.join(a.rendered, "fetch-dkim-key")):
            results["fetch"] = fetch_cases(a.rendered, work, a.key)
        netns_up()
        plain_port, tls_port = free_port(), free_port()
        plain = Sink(plain_port)
        tls = Sink(tls_port, self_signed(work))
        sinks += [plain, tls]

        opendkim = OpenDkim(a.rendered, a.key, work)
        opendkim.start()

        results["postfix_check"] = start_postfix(a.rendered, work, conf, opendkim.port, plain_port, tls_port)
        results["postfix_settings"] = sh("postconf", "-c", conf, "-n").stdout
        results["postfix_warnings"] = [l for l in _log(work).splitlines() if "warning" in l]

        cases = results["cases"]

        def case(name, ns, mail_from, rcpt, body):
            ok, reply = send(ns, mail_from, rcpt, body)
            cases[name] = {"accepted": ok, "reply": reply}

        case("inside_accepted", NS_IN, "app@example.com", "user@example.net", message("app@example.com", "user@example.net", "inside-signed"))
        case("outside_refused", NS_OUT, "spammer@example.com", "victim@example.net", message("spammer@example.com", "victim@example.net", "outside-relay"))
        case("other_domain_refused", NS_IN, "app@other.example", "user@example.net", message("app@other.example", "user@example.net", "inside-other-domain"))
        case("null_sender_refused", NS_IN, "", "user@example.net", message("mailer-daemon@app.internal", "user@example.net", "inside-null-sender"))
        case("other_from_refused", NS_IN, "app@example.com", "user@example.net", message("someone@gmail.com", "user@example.net", "inside-other-from"))
        case("tls_accepted", NS_IN, "app@example.com", "user@tls.example.net", message("app@example.com", "user@tls.example.net", "inside-tls"))
        case("bare_accepted", NS_IN, "app@example.com", "user@example.net", message("app@example.com", "user@example.net", "inside-bare", drop=("Message-ID", "Date")))
        case("no_from_refused", NS_IN, "app@example.com", "user@example.net", message("app@example.com", "user@example.net", "inside-no-from", drop=("From",)))
        # A hard bounce: the sender is told, by a bounce the gateway signs.
        case("bounce_accepted", NS_IN, "app@example.com", REFUSED[0], message("app@example.com", REFUSED[0], "inside-bounce"))
        # A bounce that cannot be delivered either: the postmaster is told.
        case("double_bounce_accepted", NS_IN, REFUSED[1], REFUSED[0], message(REFUSED[1], REFUSED[0], "inside-double-bounce"))
        # Two messages to one destination: the per-destination rate delay spaces them.
        for i in (1, 2):
            case(f"rate_{i}_accepted", NS_IN, "app@example.com", f"user{i}@slow.example", message("app@example.com", f"user{i}@slow.example", f"inside-rate-{i}"))

        def subject(s):
            return lambda m: header(m["data"], "Subject") == s

        wait_for(
            lambda: plain.find(subject("inside-signed"))
            and plain.find(subject("inside-bare"))
            and tls.find(subject("inside-tls"))
            and len(plain.find(subject("inside-rate-1")) + plain.find(subject("inside-rate-2"))) == 2
            and plain.find(lambda m: m["from"] in ("", "<>") and "app@example.com" in m["to"])
            and plain.find(lambda m: any(r.startswith("ops@") for r in m["to"])),
            90,
        )

        # Hard bounces recorded from the delivery log; with suppression, refused from now on.
        if os.path.exists(os.path.join(a.rendered, "record-bounces")):
            results["bounces"] = bounce_cases(a.rendered, work, conf, case)
        # The health report with everything running, and one message deferred.
        case("deferred_accepted", NS_IN, "app@example.com", "user@down.example", message("app@example.com", "user@down.example", "inside-deferred"))
        wait_for(lambda: '"deferred"' in sh("postqueue", "-c", conf, "-j", check=False).stdout, 30)
        results["health"] = {"ok": health_case(a.rendered, work, conf, opendkim.port, "ok", {"boot.done": "2026-12-03T07:00:00Z\n"})}

        # OpenDKIM stopped: mail waits (a temporary refusal), it does not leave unsigned.
        opendkim.stop()
        # The health report of a boot that failed, with OpenDKIM down for want of its key.
        results["health"]["failed"] = health_case(a.rendered, work, conf, opendkim.port, "failed", {
            "boot.failed": '2026-12-03T07:00:00Z\tinstall packages\texit 100: apt-get install -y -q "postfix" opendkim \\ x\n',
            "dkim-key.failed": "2026-12-03T06:59:00Z 6 attempts; last error: AccessDeniedException\n",
        })
        case("milter_down", NS_IN, "app@example.com", "user@example.net", message("app@example.com", "user@example.net", "inside-milter-down"))
        # OpenDKIM running without its key (the fetch failed): mail waits too.
        opendkim.remove_key()
        opendkim.start()
        case("key_missing", NS_IN, "app@example.com", "user@example.net", message("app@example.com", "user@example.net", "inside-key-missing"))
        opendkim.stop()
        opendkim.install_key()
        opendkim.start()

        def dnsfunc(name, timeout=5):
            key = name.decode() if isinstance(name, bytes) else name
            value = dns.get(key.rstrip("."))
            return value.encode() if value else b""

        def describe(m):
            raw = m["data"].replace("\r\n", "\n").replace("\n", "\r\n").encode()
            sig = header(m["data"], "DKIM-Signature")
            head = m["data"].replace("\r\n", "\n").split("\n\n", 1)[0]
            return {
                "helo": m["helo"],
                "tls": m["tls"],
                "mail_from": m["from"],
                "to": m["to"],
                "at": m["at"],
                "dkim_signature": sig,
                "dkim": dkim_tags(sig),
                "dkim_valid": bool(sig) and dkim.verify(raw, dnsfunc=dnsfunc),
                "from_header": header(m["data"], "From"),
                "message_id": header(m["data"], "Message-ID"),
                "date": header(m["data"], "Date"),
                "headers": head,
                # The sender's private address and names, as the application host and the
                # gateway's own Received lines would carry them.
                "internal_names": [n for n in (SENDER_IN, "10.0.1.5", "app1.internal", "client.test") if n in head],
            }

        for name, sink, subj in (
            ("signed", plain, "inside-signed"),
            ("tls", tls, "inside-tls"),
            ("bare", plain, "inside-bare"),
            ("rate_1", plain, "inside-rate-1"),
            ("rate_2", plain, "inside-rate-2"),
            ("no_from", plain, "inside-no-from"),
        ):
            found = sink.find(subject(subj))
            cases[f"relayed_{name}"] = dict(describe(found[0]), delivered=True) if found else {"delivered": False}
        # Everything else that reached a next hop, by its subject, so that a refused case that
        # leaked shows up here.
        results["delivered_subjects"] = sorted(header(m["data"], "Subject") or "" for m in plain.messages + tls.messages)
        bounces = plain.find(lambda m: m["from"] in ("", "<>") and "app@example.com" in m["to"])
        cases["bounce"] = dict(describe(bounces[0]), delivered=True) if bounces else {"delivered": False}
        notices = plain.find(lambda m: any(r.startswith("ops@") for r in m["to"]))
        cases["postmaster_notice"] = dict(describe(notices[0]), delivered=True) if notices else {"delivered": False}
        results["maillog_tail"] = _log(work)[-4000:]
    finally:
        shutil.rmtree(f"/run/mailinfra-mailpath-{ID}", ignore_errors=True)
        sh("postfix", "-c", conf, "stop", check=False)
        if opendkim:
            opendkim.stop()
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
