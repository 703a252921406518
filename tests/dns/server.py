"""A small authoritative DNS server for the `check` tests, on 127.0.0.1 (UDP and TCP).

    server.py ZONES.json   prints the port it listens on, then serves until killed

ZONES.json is read again for every query, so a test changes answers by rewriting it:
  {"zones": ["example.com", ...],
   "records": {"example.com|TXT": ["v=spf1 -all", ...], "mail.example.com|A": ["192.0.2.1"], ...},
   "timeout": ["name", ...] or true (never answer), "servfail": ["name", ...],
   "refused": ["name", ...]}
Each name in "zones" is served as production zones are: an SOA and two NS records at its apex
(ns1/ns2.<zone>, with A records 127.0.0.1), the authoritative-answer flag, and the SOA in the
authority section of a negative answer (RFC 2308), so a resolver caches NXDOMAIN and NODATA
as it would from Route 53. Records listed in "records" override the generated ones.
A name with records of other types answers NOERROR with no data; an unknown name NXDOMAIN.
"""

import json
import socketserver
import sys
import threading

from dnslib import AAAA, CNAME, MX, NS, PTR, QTYPE, RCODE, RR, SOA, TXT, A, DNSRecord

PATH = sys.argv[1]


def zone_records(zones):
    """The records: the zones' SOA, NS and name-server addresses, then the test's own."""
    records = {}
    for zone in zones.get("zones", []):
        records[f"{zone}|SOA"] = [f"ns1.{zone} hostmaster.{zone} 1 7200 900 1209600 60"]
        records[f"{zone}|NS"] = [f"ns1.{zone}", f"ns2.{zone}"]
        records[f"ns1.{zone}|A"] = ["127.0.0.1"]
        records[f"ns2.{zone}|A"] = ["127.0.0.1"]
    records.update(zones.get("records", {}))
    return records


def apex(name, zones):
    """The longest served zone that contains `name`, if any."""
    inside = [z for z in zones.get("zones", []) if name == z or name.endswith("." + z)]
    return max(inside, key=len) if inside else None


def rdata(qtype, v):
    if qtype == "A":
        return A(v)
    if qtype == "AAAA":
        return AAAA(v)
    if qtype == "TXT":
        return TXT([v[i : i + 255] for i in range(0, len(v), 255)] or [""])
    if qtype == "CNAME":
        return CNAME(v)
    if qtype == "PTR":
        return PTR(v)
    if qtype == "NS":
        return NS(v)
    if qtype == "MX":
        return MX(v.split()[1], int(v.split()[0]))
    if qtype == "SOA":
        m, r, serial, refresh, retry, expire, minimum = v.split()
        return SOA(m, r, (int(serial), int(refresh), int(retry), int(expire), int(minimum)))
    raise ValueError(qtype)


def answer(data):
    request = DNSRecord.parse(data)
    zones = json.load(open(PATH))
    q = request.q
    name = str(q.qname).rstrip(".").lower()
    qtype = QTYPE[q.qtype]
    timeout = zones.get("timeout", [])
    if timeout is True or name in timeout:
        return None
    reply = request.reply()
    if name in zones.get("servfail", []):
        reply.header.rcode = RCODE.SERVFAIL
        return reply.pack()
    if name in zones.get("refused", []):
        reply.header.rcode = RCODE.REFUSED
        return reply.pack()
    records = zone_records(zones)
    zone = apex(name, zones)
    reply.header.aa = 1 if zone else 0
    values = records.get(f"{name}|{qtype}")
    if values is None and qtype != "CNAME":
        cname = records.get(f"{name}|CNAME")
        if cname:
            reply.add_answer(RR(q.qname, QTYPE.CNAME, rdata=CNAME(cname[0]), ttl=60))
            return reply.pack()
    if values:
        for v in values:
            reply.add_answer(RR(q.qname, getattr(QTYPE, qtype), rdata=rdata(qtype, v), ttl=60))
        return reply.pack()
    if not any(k.split("|")[0] == name for k in records):
        reply.header.rcode = RCODE.NXDOMAIN
    if zone:
        soa = records[f"{zone}|SOA"][0]
        reply.add_auth(RR(zone, QTYPE.SOA, rdata=rdata("SOA", soa), ttl=60))
    return reply.pack()


def udp_limit(data):
    """The largest UDP answer the client takes: 512 bytes, or its EDNS0 size (RFC 6891)."""
    request = DNSRecord.parse(data)
    sizes = [rr.rclass for rr in request.ar if rr.rtype == QTYPE.OPT]
    return max(512, sizes[0]) if sizes else 512


class UDP(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        out = answer(data)
        if out and len(out) > udp_limit(data):
            # Too large for UDP: the header alone with TC set, so the client asks over TCP
            # (RFC 1035 §4.2.1), as real servers do with two 2048-bit DKIM keys.
            reply = DNSRecord.parse(out)
            reply.rr, reply.auth, reply.ar = [], [], []
            reply.header.tc = 1
            out = reply.pack()
        if out:
            sock.sendto(out, self.client_address)


class TCP(socketserver.BaseRequestHandler):
    def handle(self):
        size = int.from_bytes(self.request.recv(2), "big")
        out = answer(self.request.recv(size))
        if out:
            self.request.sendall(len(out).to_bytes(2, "big") + out)


socketserver.ThreadingUDPServer.allow_reuse_address = True


def bind_both():
    """A UDP and a TCP server on one port. The kernel picks a free UDP port, but the same
    TCP port may be taken by another process: then try another port (bounded)."""
    for _ in range(50):
        udp = socketserver.ThreadingUDPServer(("127.0.0.1", 0), UDP)
        port = udp.server_address[1]
        try:
            return udp, socketserver.ThreadingTCPServer(("127.0.0.1", port), TCP), port
        except OSError:
            udp.server_close()
    raise SystemExit("no port free for both UDP and TCP after 50 tries")


udp, tcp, port = bind_both()
threading.Thread(target=tcp.serve_forever, daemon=True).start()
print(port, flush=True)
udp.serve_forever()
