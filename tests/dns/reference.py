"""The independent references the `check` corpus (tests/check_corpus.rs) compares with:
pyspf for SPF results, checkdmarc for DMARC record validity, dkimpy for DKIM keys and
signatures. None of them is mailinfra's code.

    reference.py PORT   reads one JSON request a line on stdin, answers one JSON line each

All DNS goes to the test's authoritative server on 127.0.0.1:PORT (tests/dns/server.py).
A request:  {"spf": [{"ip": "192.0.2.7", "domain": "example.com"}],
             "dmarc": ["example.com"], "spf_record": ["example.com"],
             "dkim": [{"domain": "example.com", "selector": "mta1", "key": "-----BEGIN ..."}]}
The answer: {"spf": [{"result": "pass", "why": "..."}],
             "dmarc": [{"valid": true, "error": null, "warnings": [...], "tags": {...}}],
             "spf_record": [{"valid": true, "error": null, "warnings": [...]}],
             "dkim": [{"key": true, "bits": 2048, "error": null, "verified": true}]}
A DKIM entry without "key" only loads the key record (as a verifier would); with the
signer's private key (PEM) it also signs a message and verifies it through DNS.
"""

import json
import sys

import checkdmarc.dmarc
import checkdmarc.spf
import checkdmarc.utils
import dkim
import dns.nameserver
import dns.resolver
import spf

PORT = int(sys.argv[1])


def resolver():
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [dns.nameserver.Do53Nameserver("127.0.0.1", PORT)]
    r.timeout = 2
    r.lifetime = 4
    r.cache = None
    return r


def spf_result(ip, domain):
    # pyspf asks dnspython's default resolver (spf.DNSLookup_dnspython).
    dns.resolver.default_resolver = resolver()
    result, why = spf.check2(
        i=ip, s=f"postmaster@{domain}", h=f"mail.{domain}", timeout=4, querytime=8
    )
    return {"result": result, "why": why}


def dmarc_result(domain):
    checkdmarc.utils.DNS_CACHE.clear()
    r = checkdmarc.dmarc.check_dmarc(domain, resolver=resolver(), timeout=2, retries=0)
    return {
        "valid": bool(r.get("valid")),
        "error": r.get("error"),
        "warnings": [str(w) for w in r.get("warnings", [])],
        "tags": {k: v.get("value") for k, v in (r.get("tags") or {}).items()},
    }


def spf_record(domain):
    """checkdmarc's verdict on a domain's SPF record as published (syntax, lookups)."""
    checkdmarc.utils.DNS_CACHE.clear()
    r = checkdmarc.spf.check_spf(domain, resolver=resolver(), timeout=2, retries=0)
    return {
        "valid": bool(r.get("valid")),
        "error": r.get("error"),
        "warnings": [str(w) for w in r.get("warnings", [])],
    }


def txt(name, timeout=5):
    """The first TXT record at `name`, as dkimpy's own dnspython lookup returns it."""
    try:
        answers = resolver().resolve(name.decode().rstrip("."), "TXT")
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    for r in answers:
        return b"".join(r.strings)
    return None


def dkim_result(domain, selector, key):
    out = {"key": False, "bits": None, "error": None, "verified": None}
    name = f"{selector}._domainkey.{domain}."
    try:
        _pk, bits, _ktag, _tlsrpt = dkim.load_pk_from_dns(name.encode(), dnsfunc=txt)
        out["key"] = True
        out["bits"] = bits
    except Exception as e:  # dkimpy's KeyFormatError and DNS errors alike
        out["error"] = f"{type(e).__name__}: {e}"
    if key:
        message = (
            f"From: postmaster@{domain}\r\nTo: someone@example.net\r\n"
            "Subject: corpus\r\n\r\nhello\r\n"
        ).encode()
        signature = dkim.sign(message, selector.encode(), domain.encode(), key.encode())
        out["verified"] = dkim.verify(signature + message, dnsfunc=txt)
    return out


for line in sys.stdin:
    request = json.loads(line)
    answer = {
        "spf": [spf_result(s["ip"], s["domain"]) for s in request.get("spf", [])],
        "dmarc": [dmarc_result(d) for d in request.get("dmarc", [])],
        "spf_record": [spf_record(d) for d in request.get("spf_record", [])],
        "dkim": [
            dkim_result(d["domain"], d["selector"], d.get("key"))
            for d in request.get("dkim", [])
        ],
    }
    print(json.dumps(answer), flush=True)
