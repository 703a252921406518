"""The Amazon SES SMTP password, derived independently of mailinfra's Rust code from the
algorithm in the SES Developer Guide, "Obtaining Amazon SES SMTP credentials", "Converting
existing AWS credentials" (version 4):
https://docs.aws.amazon.com/ses/latest/dg/smtp-credentials.html#smtp-credentials-convert

  date = "11111111"; service = "ses"; terminal = "aws4_request"; message = "SendRawEmail"
  version = 0x04
  kDate = HmacSha256(date, "AWS4" + key); kRegion = HmacSha256(region, kDate)
  kService = HmacSha256(service, kRegion); kTerminal = HmacSha256(terminal, kService)
  kMessage = HmacSha256(message, kTerminal)
  smtpPassword = Base64(version + kMessage)

As a program: reads JSON [[secret, region], ...] on stdin, prints the passwords as a JSON list.
"""

import base64
import hashlib
import hmac
import json
import sys

DATE = "11111111"
SERVICE = "ses"
TERMINAL = "aws4_request"
MESSAGE = "SendRawEmail"
VERSION = 0x04


def _sign(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def smtp_password(secret: str, region: str) -> str:
    k_date = _sign(("AWS4" + secret).encode("utf-8"), DATE)
    k_region = _sign(k_date, region)
    k_service = _sign(k_region, SERVICE)
    k_terminal = _sign(k_service, TERMINAL)
    k_message = _sign(k_terminal, MESSAGE)
    return base64.b64encode(bytes([VERSION]) + k_message).decode("ascii")


if __name__ == "__main__":
    print(json.dumps([smtp_password(s, r) for s, r in json.load(sys.stdin)]))
