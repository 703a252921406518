"""Signs a message as SES does with a BYODKIM key, and verifies messages with dkimpy against
a snapshot of DNS: the independent side of tests/ses_rotation.rs.

Reads one JSON object on stdin:
  {"domain": "example.net",
   "sign": {"selector": "mi1", "key": "<base64 PKCS#8 DER, as SES takes it>"} or null,
   "verify": ["<base64 message>", ...],
   "dns": {"mi1._domainkey.example.net": "v=DKIM1; k=rsa; p=...", ...}}
Prints {"signed": "<base64 message>" or null, "valid": [bool, ...]}: one verdict per message
of `verify`, then one for the message it signed.
"""

import base64
import json
import sys

import dkim


def pem(der_b64):
    body = "\n".join(der_b64[i:i + 64] for i in range(0, len(der_b64), 64))
    return f"-----BEGIN PRIVATE KEY-----\n{body}\n-----END PRIVATE KEY-----\n".encode()


def main():
    spec = json.load(sys.stdin)
    domain = spec["domain"]
    records = spec["dns"]

    def dnsfunc(name, timeout=5):
        key = name.decode() if isinstance(name, bytes) else name
        value = records.get(key.rstrip("."))
        return value.encode() if value else b""

    messages = [base64.b64decode(m) for m in spec["verify"]]
    signed = None
    if spec.get("sign"):
        n = len(messages) + 1
        body = (
            f"From: sender@{domain}\r\nTo: someone@example.org\r\n"
            f"Subject: message {n}\r\nMessage-ID: <{n}@{domain}>\r\n\r\nmessage {n}\r\n"
        ).encode()
        sig = dkim.sign(
            body,
            spec["sign"]["selector"].encode(),
            domain.encode(),
            pem(spec["sign"]["key"]),
            include_headers=[b"from", b"to", b"subject", b"message-id"],
        )
        signed = sig + body
        messages.append(signed)
    valid = [bool(dkim.verify(m, dnsfunc=dnsfunc)) for m in messages]
    print(json.dumps({
        "signed": base64.b64encode(signed).decode() if signed else None,
        "valid": valid,
    }))


if __name__ == "__main__":
    main()
