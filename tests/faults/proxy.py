"""A fault-injecting HTTP proxy between the mailinfra binary and the emulator, for tests.

    proxy.py UPSTREAM_URL   listens on 127.0.0.1, prints its port, then serves until killed

The binary is pointed at the proxy (AWS_ENDPOINT_URL); every request is forwarded to
UPSTREAM_URL unless a rule says otherwise. Requests are numbered from 1 in arrival order and
named `service.Operation` exactly as the emulator counts them (front.py's `Front.operation`).

Control requests (to the proxy itself, never forwarded):
  POST /_faults          {"rules": [RULE, ...]} replaces the rules and starts the numbering
                         and the log afresh
  GET  /_faults/log      [{"n": 1, "op": "route53.ListHostedZones", "fault": null}, ...]
  GET  /_faults/held     {"n": 7, "op": "ec2.RunInstances"} while a `hold` or `stall` keeps a
                         request, else {}
  POST /_faults/release  lets every held request go on (a stall is then forwarded; a held
                         answer is written to a client that may be gone)

RULE: {"fault": F, "op": "ec2.RunInstances" or a service "ec2" (optional: every request),
       "nth": [1, 3] (optional: only these of the requests the rule selects, counted from 1),
       "times": N (optional: at most N injections), "seconds": S (latency)}
The first rule that selects a request decides its fault. F is one of:
  http500, http503   that status with an HTML body, as a load balancer answers (not forwarded)
  throttle           the service's own throttling error (not forwarded):
                       route53  400 REST XML Throttling
                       ec2      503 EC2 XML RequestLimitExceeded
                       iam, sts 400 query XML Throttling
                       ssm      400 JSON ThrottlingException
                       ses      429 JSON TooManyRequestsException (x-amzn-ErrorType)
  prior_request      Route 53's 400 PriorRequestNotComplete (not forwarded)
  reset_before       the connection reset (TCP RST) before forwarding: nothing was applied
  reset_after        forwarded (so applied), then the connection reset: the answer is lost
  latency            forwarded after S seconds
  stall              not forwarded and not answered (reset when released); the client's
                     attempt timeout gives up on it and sends it again
  garbage            HTTP 200 with a body that is neither XML nor JSON (not forwarded)
  garbage500         HTTP 500 with the same body (not forwarded; the SDK retries 5xx)
  hold               forwarded (so applied), the answer held until released: a test kills
                     the client meanwhile, "killed right before request n is answered"

The error formats follow the services' API references: Route 53 "Common Errors" and
ChangeResourceRecordSets (PriorRequestNotComplete, HTTP 400); EC2 "Error codes" and "Request
throttling" (RequestLimitExceeded in `<Response><Errors><Error>`, HTTP 503); IAM and STS
"Common Errors" (query `<ErrorResponse><Error>`, HTTP 400); Systems Manager "Common Errors"
(JSON `__type`, HTTP 400); SES API v2 errors (TooManyRequestsException, HTTP 429). The AWS
SDKs classify every one of these codes as throttling and retry it.
"""

import http.client
import json
import os
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "emulator"))
from mailinfra_emulator.front import CRED, Front  # noqa: E402

UPSTREAM = urlsplit(sys.argv[1])

LOCK = threading.Lock()
STATE = {"rules": [], "n": 0, "log": [], "held": {}, "release": threading.Event()}

HTML = b"<html><head><title>Internal Server Error</title></head><body>oops</body></html>"
GARBAGE = b"\x00\x01garbage: not XML, not JSON \xff"


def throttle(service):
    rid = "00000000-0000-0000-0000-000000000000"
    if service == "route53":
        return 400, "text/xml", (
            '<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
            "<Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>"
            f"<RequestId>{rid}</RequestId></ErrorResponse>"
        ), {}
    if service == "ec2":
        return 503, "text/xml", (
            '<?xml version="1.0" encoding="UTF-8"?><Response><Errors><Error>'
            "<Code>RequestLimitExceeded</Code><Message>Request limit exceeded.</Message>"
            f"</Error></Errors><RequestID>{rid}</RequestID></Response>"
        ), {}
    if service in ("iam", "sts"):
        ns = "https://iam.amazonaws.com/doc/2010-05-08/" if service == "iam" else "https://sts.amazonaws.com/doc/2011-06-15/"
        return 400, "text/xml", (
            f'<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type><Code>Throttling</Code>'
            f"<Message>Rate exceeded</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
        ), {}
    if service == "ssm":
        return 400, "application/x-amz-json-1.1", json.dumps(
            {"__type": "ThrottlingException", "message": "Rate exceeded"}
        ), {}
    if service == "ses":
        return 429, "application/json", json.dumps({"message": "Too Many Requests"}), {
            "x-amzn-ErrorType": "TooManyRequestsException"
        }
    return 503, "text/plain", "Slow Down", {}


def prior_request():
    return 400, "text/xml", (
        '<?xml version="1.0"?><ErrorResponse xmlns="https://route53.amazonaws.com/doc/2013-04-01/">'
        "<Error><Type>Sender</Type><Code>PriorRequestNotComplete</Code>"
        "<Message>The request was rejected because Route 53 was still processing a prior request.</Message>"
        "</Error><RequestId>00000000-0000-0000-0000-000000000000</RequestId></ErrorResponse>"
    ), {}


def choose(op):
    """Numbers the request and returns (n, the rule's fault or None, the rule)."""
    service = op.split(".")[0]
    with LOCK:
        STATE["n"] += 1
        n = STATE["n"]
        chosen = None
        for rule in STATE["rules"]:
            want = rule.get("op")
            if want and want not in (op, service):
                continue
            rule["seen"] = rule.get("seen", 0) + 1
            if "nth" in rule and rule["seen"] not in rule["nth"]:
                continue
            if "times" in rule and rule.get("used", 0) >= rule["times"]:
                continue
            rule["used"] = rule.get("used", 0) + 1
            chosen = rule
            break
        fault = chosen["fault"] if chosen else None
        STATE["log"].append({"n": n, "op": op, "fault": fault})
        return n, fault, chosen


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.handle_any()

    def do_POST(self):
        self.handle_any()

    def do_PUT(self):
        self.handle_any()

    def do_DELETE(self):
        self.handle_any()

    def do_PATCH(self):
        self.handle_any()

    def do_HEAD(self):
        self.handle_any()

    def handle_any(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        path = self.path.split("?")[0]
        if path.startswith("/_faults"):
            return self.control(path, body)
        op = self.operation(path, body)
        n, fault, rule = choose(op)
        if fault in ("http500", "http503"):
            return self.reply(int(fault[4:]), "text/html", HTML)
        if fault == "throttle":
            return self.reply(*throttle(op.split(".")[0]))
        if fault == "prior_request":
            return self.reply(*prior_request())
        if fault in ("garbage", "garbage500"):
            return self.reply(200 if fault == "garbage" else 500, "text/plain", GARBAGE)
        if fault == "reset_before":
            return self.reset()
        if fault == "latency":
            time.sleep(float(rule.get("seconds", 1)))
        if fault == "stall":
            self.hold(n, op)
            return self.reset()  # never forwarded: its client gave up on it long ago
        status, headers, data = self.forward(body)
        if fault == "reset_after":
            return self.reset()
        if fault == "hold":
            self.hold(n, op)
        try:
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def operation(self, path, body):
        m = CRED.search(self.headers.get("Authorization", ""))
        service = m.group(3) if m else "unsigned"
        environ = {
            "REQUEST_METHOD": self.command,
            "QUERY_STRING": self.path.split("?", 1)[1] if "?" in self.path else "",
        }
        if self.headers.get("X-Amz-Target"):
            environ["HTTP_X_AMZ_TARGET"] = self.headers["X-Amz-Target"]
        return f"{service}.{Front.operation(environ, service, path, body)}"

    def forward(self, body):
        conn = http.client.HTTPConnection(UPSTREAM.hostname, UPSTREAM.port, timeout=600)
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, resp.getheaders(), data

    def hold(self, n, op):
        with LOCK:
            STATE["held"] = {"n": n, "op": op}
            release = STATE["release"]
        release.wait(600)

    def reset(self):
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True

    def reply(self, status, content_type, data, headers=None):
        if isinstance(data, str):
            data = data.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        try:
            self.wfile.write(data)
        except OSError:
            self.close_connection = True

    def control(self, path, body):
        with LOCK:
            if path == "/_faults" and self.command == "POST":
                STATE["release"].set()
                STATE.update(rules=json.loads(body)["rules"], n=0, log=[], held={}, release=threading.Event())
                out = {}
            elif path == "/_faults/log":
                out = STATE["log"]
            elif path == "/_faults/held":
                out = STATE["held"]
            elif path == "/_faults/release":
                STATE["release"].set()
                STATE["release"] = threading.Event()
                STATE["held"] = {}
                out = {}
            else:
                return self.reply(404, "application/json", b"{}")
        self.reply(200, "application/json", json.dumps(out))


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a client that went away mid-answer is what these tests do on purpose


def main():
    server = Server(("127.0.0.1", 0), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
