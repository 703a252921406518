"""WSGI middleware in front of moto: counts every request per account by service and
operation (for tests and the benchmark), serves the SES v2 operations of `sesv2.py`, and
passes everything else to moto.

GET    /_mailinfra/requests?account=ID  -> {"route53.ListHostedZones": 1, ...}
DELETE /_mailinfra/requests             -> clears every count
POST   /_mailinfra/ses/account?account=ID&region=R  -> sets SES sandbox state (sesv2.py)
POST   /_mailinfra/ses/generate-dkim-key?account=ID&region=R&domain=D -> SES's own Easy DKIM
       key generation (no API starts it): the next key pair becomes the one in use
POST   /_mailinfra/ec2/fail-next-launch?account=ID&code=C&message=M -> the account's next
       RunInstances launches an instance that terminates during launch with StateReason C/M
POST   /_mailinfra/ec2/fail-next-ptr?account=ID&reason=R -> the account's next
       ModifyAddressAttribute ends with PtrRecordUpdate Status FAILED, Reason R
POST   /_mailinfra/ec2/<hook>?account=ID&... -> the EC2 test hooks of ec2.HOOKS (hide-new,
       ptr-delay, ...; emulator/README.md)
POST   /_mailinfra/iam/assume?account=ID&role=NAME with a policy document as the body ->
       creates (or updates) role NAME holding only that inline policy and returns temporary
       credentials of it ({"AccessKeyId", "SecretAccessKey", "SessionToken"}); requests
       signed with them are authorized as IAM would (iam_enforce.py). Not counted.
       signed with them are authorized as IAM would (iam_enforce.py). Not counted.
POST   /_mailinfra/iam/instance-credentials?account=ID&role=NAME -> temporary credentials of
       the existing role NAME as it is (policies, boundary), as EC2 gives an instance of its
       instance profile: a test acts as the gateway with them. Not counted.
POST   /_mailinfra/delay?account=ID&op=ec2.AllocateAddress&seconds=N[&times=K] -> holds that
       operation for N seconds before serving it (0 clears), so a test can kill a client
       mid-apply; with `times`, only the next K requests are held (a stall the client's
       retry gets past); with `mode=response`, the request is served at once and only its
       response is held: a lost response to a request that took effect, which the client
       retries
"""

import time

import io
import json
import re
import threading
from collections import Counter, defaultdict
from urllib.parse import parse_qs

from . import iam_enforce, sesv2
from .accounts import account_for_key

CRED = re.compile(r"Credential=([^/]+)/[^/]+/([^/]+)/([^/]+)/")

# REST operations by method and path (Route 53 and SES v2 name operations by path).
REST = [
    ("GET", r"^/2013-04-01/hostedzone$", "ListHostedZones"),
    ("POST", r"^/2013-04-01/hostedzone$", "CreateHostedZone"),
    ("GET", r"^/2013-04-01/hostedzonesbyname$", "ListHostedZonesByName"),
    ("GET", r"^/2013-04-01/hostedzone/[^/]+$", "GetHostedZone"),
    ("DELETE", r"^/2013-04-01/hostedzone/[^/]+$", "DeleteHostedZone"),
    ("GET", r"^/2013-04-01/hostedzone/[^/]+/rrset/?$", "ListResourceRecordSets"),
    ("POST", r"^/2013-04-01/hostedzone/[^/]+/rrset/?$", "ChangeResourceRecordSets"),
    ("GET", r"^/2013-04-01/change/[^/]+$", "GetChange"),
    ("POST", r"^/2013-04-01/tags/hostedzone$", "ListTagsForResources"),
    ("GET", r"^/2013-04-01/tags/hostedzone/[^/]+$", "ListTagsForResource"),
    ("POST", r"^/2013-04-01/tags/hostedzone/[^/]+$", "ChangeTagsForResource"),
]


class Front:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        # One request served at a time: see `serve`.
        self.serving = threading.RLock()
        self.counts = defaultdict(Counter)
        self.delays = {}

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_mailinfra/requests":
            return self.report(environ, start_response)
        query = parse_qs(environ.get("QUERY_STRING", ""))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
        if path == "/_mailinfra/ses/account":
            sesv2.set_account(query["account"][0], query["region"][0], json.loads(body or b"{}"))
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
            return [b"{}"]
        if path == "/_mailinfra/route53/insync-after":
            from . import route53

            route53.INSYNC_AFTER[query["account"][0]] = float(query["seconds"][0])
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
            return [b"{}"]
        if path == "/_mailinfra/ec2/fail-next-launch":
            from . import ec2

            ec2.FAIL_NEXT_LAUNCH[query["account"][0]] = (query["code"][0], query["message"][0])
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
            return [b"{}"]
        if path == "/_mailinfra/ec2/fail-next-ptr":
            from . import ec2

            ec2.FAIL_NEXT_PTR[query["account"][0]] = query["reason"][0]
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
            return [b"{}"]
        if path.startswith("/_mailinfra/ec2/"):
            from . import ec2

            hook = ec2.HOOKS.get(path.rsplit("/", 1)[1])
            if hook is not None:
                with self.serving:
                    hook(query)
                start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
                return [b"{}"]
        if path == "/_mailinfra/iam/assume":
            with self.serving:
                creds = iam_enforce.assume_test_role(query["account"][0], query["role"][0], body.decode())
            data = json.dumps(creds).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
            return [data]
        if path == "/_mailinfra/iam/instance-credentials":
            with self.serving:
                creds = iam_enforce.instance_credentials(query["account"][0], query["role"][0])
            data = json.dumps(creds).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
            return [data]
        if path == "/_mailinfra/delay":
            key = (query["account"][0], query["op"][0])
            times = int(query["times"][0]) if "times" in query else None
            mode = query.get("mode", ["request"])[0]
            with self.lock:
                self.delays[key] = [float(query["seconds"][0]), times, mode]
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
            return [b"{}"]
        if path == "/_mailinfra/ses/generate-dkim-key":
            with self.serving:
                sesv2.generate_dkim_key(query["account"][0], query["region"][0], query["domain"][0])
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", "2")])
            return [b"{}"]
        if path == "/_mailinfra/ses/identity":
            key = sesv2.private_key(query["account"][0], query["region"][0], query["domain"][0])
            data = json.dumps({"private_key": key}).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
            return [data]
        m = CRED.search(environ.get("HTTP_AUTHORIZATION", ""))
        if not m:
            with self.serving:
                return list(self.app(environ, start_response))
        key, region, service = m.group(1), m.group(2), m.group(3)
        account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or account_for_key(key) or self.moto_account(key)
        op = self.operation(environ, service, path, body)
        with self.lock:
            self.counts[account][f"{service}.{op}"] += 1
        principal = iam_enforce.principal_for(key, environ.get("HTTP_X_AMZ_SECURITY_TOKEN"), account)
        if principal is not None:
            checks = iam_enforce.checks(account, region, service, op, path, environ.get("QUERY_STRING", ""), body)
            refused = iam_enforce.refusal(principal, checks)
            if refused:
                return iam_enforce.denied(start_response, service, op, refused)
        delay, mode = 0, "request"
        with self.lock:
            held = self.delays.get((account, f"{service}.{op}"))
            if held and held[0] and held[1] != 0:
                delay, mode = held[0], held[2]
                if held[1] is not None:
                    held[1] -= 1
        if delay and mode == "response":
            return self.held_response(environ, start_response, account, region, service, op, path, body, delay)
        if delay:
            time.sleep(delay)
        return self.serve(environ, start_response, account, region, service, op, path, body)

    def held_response(self, environ, start_response, account, region, service, op, path, body, delay):
        """Serves the request at once (its effect is made) and holds only the response."""
        captured = {}

        def capture(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, headers
            return lambda _data: None

        data = b"".join(self.serve(environ, capture, account, region, service, op, path, body))
        time.sleep(delay)
        start_response(captured["status"], captured["headers"])
        return [data]

    def serve(self, environ, start_response, account, region, service, op, path, body):
        """Serves one request whole before the next starts.

        An AWS operation is atomic to every other request: RunInstances' instance is never seen
        without the tags of its TagSpecifications ("If any of the tags fail to apply, the
        resource isn't created", EC2 User Guide, Tag your Amazon EC2 resources: tag on
        creation) or the security groups of its network interface. moto and this emulator's
        wrappers build a resource in steps (moto adds the instance, then its tags; ec2.py then
        gives it its interface's groups), and werkzeug serves requests on threads, so another
        request could see the instance half made: an apply started right after a killed one
        then took the killed run's instance for a stranger's and launched a second one (CI,
        stop 21). The held delays above sleep outside this lock.
        """
        with self.serving:
            return list(self.dispatch(environ, start_response, account, region, service, op, path, body))

    def dispatch(self, environ, start_response, account, region, service, op, path, body):
        if service == "tagging" and op == "GetResources":
            served = sesv2.get_resources(start_response, account, region, body)
            if served is not None:
                return served
        if path.startswith("/v2/email/"):
            served = sesv2.handle(environ, start_response, account, region, body)
            if served is not None:
                return served
        return self.app(environ, start_response)

    @staticmethod
    def moto_account(key):
        """The account of a key moto issued (an IAM user's, or an assumed role's)."""
        import moto.iam.models as iam_models

        return iam_models.get_account_id_from(key)

    @staticmethod
    def operation(environ, service, path, body):
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return target.split(".")[-1]
        method = environ.get("REQUEST_METHOD", "GET")
        for m, pattern, name in REST:
            if m == method and re.match(pattern, path):
                return name
        ses = sesv2.match(method, path)
        if ses:
            return ses[0]
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "Action" in query:
            return query["Action"][0]
        form = parse_qs(body.decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0]
        return f"{method} {path}"

    def report(self, environ, start_response):
        method = environ.get("REQUEST_METHOD")
        if method == "DELETE":
            with self.lock:
                self.counts.clear()
            body = b"{}"
        else:
            account = parse_qs(environ.get("QUERY_STRING", "")).get("account", ["123456789012"])[0]
            with self.lock:
                body = json.dumps(dict(self.counts.get(account, {})), sort_keys=True).encode()
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
        return [body]
