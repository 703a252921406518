"""Counts the AWS requests each account sends, by service and operation, for tests and the
benchmark. It sits in front of moto as WSGI middleware, so it sees every request, including
ones moto does not route.

GET    /_mailinfra/requests?account=ID  -> {"Route53.ListHostedZones": 1, ...}
DELETE /_mailinfra/requests             -> clears every count
"""

import io
import json
import re
import threading
from collections import Counter, defaultdict
from urllib.parse import parse_qs

from .accounts import account_for_key

CRED = re.compile(r"Credential=([^/]+)/[^/]+/[^/]+/([^/]+)/")

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


class RequestCounter:
    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()
        self.counts = defaultdict(Counter)

    def __call__(self, environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/_mailinfra/requests":
            return self.report(environ, start_response)
        auth = environ.get("HTTP_AUTHORIZATION", "")
        m = CRED.search(auth)
        if m:
            key, service = m.group(1), m.group(2)
            account = environ.get("HTTP_X_MOTO_ACCOUNT_ID") or account_for_key(key) or "123456789012"
            op = self.operation(environ, service, path)
            with self.lock:
                self.counts[account][f"{service}.{op}"] += 1
        return self.app(environ, start_response)

    @staticmethod
    def operation(environ, service, path):
        target = environ.get("HTTP_X_AMZ_TARGET")
        if target:
            return target.split(".")[-1]
        method = environ.get("REQUEST_METHOD", "GET")
        for m, pattern, name in REST:
            if m == method and re.match(pattern, path):
                return name
        query = parse_qs(environ.get("QUERY_STRING", ""))
        if "Action" in query:
            return query["Action"][0]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)
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
