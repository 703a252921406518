"""A small authoritative DNS server for the `check` tests, on 127.0.0.1 (UDP and TCP).

    server.py ZONES.json   prints the port it listens on, then serves until killed

ZONES.json is read again for every query, so a test changes answers by rewriting it:
  {"records": {"example.com|TXT": ["v=spf1 -all", ...], "mail.example.com|A": ["192.0.2.1"], ...},
   "timeout": ["name", ...] or true (never answer), "servfail": ["name", ...]}
A name with records of other types answers NOERROR with no data; an unknown name NXDOMAIN.
"""

import json
import socketserver
import sys
import threading

from dnslib import CNAME, MX, PTR, QTYPE, RCODE, RR, TXT, A, DNSRecord

PATH = sys.argv[1]


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
    records = zones.get("records", {})
    values = records.get(f"{name}|{qtype}")
    if values is None and qtype != "CNAME":
        cname = records.get(f"{name}|CNAME")
        if cname:
            reply.add_answer(RR(q.qname, QTYPE.CNAME, rdata=CNAME(cname[0]), ttl=60))
            return reply.pack()
    if values:
        for v in values:
            rdata = {
                "A": lambda v: A(v),
                "TXT": lambda v: TXT([v[i : i + 255] for i in range(0, len(v), 255)] or [""]),
                "CNAME": lambda v: CNAME(v),
                "PTR": lambda v: PTR(v),
                "MX": lambda v: MX(v.split()[1], int(v.split()[0])),
            }[qtype](v)
            reply.add_answer(RR(q.qname, getattr(QTYPE, qtype), rdata=rdata, ttl=60))
    elif not any(k.split("|")[0] == name for k in records):
        reply.header.rcode = RCODE.NXDOMAIN
    return reply.pack()


class UDP(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        out = answer(data)
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
