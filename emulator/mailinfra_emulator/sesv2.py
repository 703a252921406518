"""Amazon SES v2, the part mailinfra uses, as the SES API v2 reference describes it.

moto 5.2.5's SES v2 returns no DKIM tokens, never verifies an identity, and lacks MAIL FROM,
DKIM signing attributes, configuration-set options, GetAccount and account suppression. This
module serves these operations itself (state per account and region), in front of moto:

- CreateEmailIdentity: three Easy DKIM tokens, SigningAttributesOrigin AWS_SES (or EXTERNAL
  with DkimSigningAttributes: BYODKIM), Tags kept; a second create is AlreadyExistsException.
- GetEmailIdentity: verification as SES does it, by looking at DNS (here: the same account's
  Route 53): Easy DKIM verifies once the three CNAMEs `<token>._domainkey.<domain>` ->
  `<token>.<SigningHostedZone>` exist (`dkim.amazonses.com`, or the region's own DKIM domain
  where AWS lists one); BYODKIM once `<selector>._domainkey.<domain>` TXT holds
  the public half of the private key; MAIL FROM is SUCCESS once its MX points at
  `feedback-smtp.<region>.amazonses.com`. PENDING until then, never FAILED by itself.
- DeleteEmailIdentity of a missing identity: NotFoundException (moto: HTTP 500).
- ListEmailIdentities (POST /v2/email/list-identities), with PageSize/NextToken.
- PutEmailIdentityMailFromAttributes: the domain must be a subdomain of the identity
  (BadRequestException otherwise); empty turns custom MAIL FROM off.
- PutEmailIdentityDkimSigningAttributes (AWS_SES or EXTERNAL), PutEmailIdentityDkimAttributes
  (SigningEnabled), PutEmailIdentityConfigurationSetAttributes.
- Create/Get/List/DeleteConfigurationSet with DeliveryOptions, SendingOptions,
  SuppressionOptions and Tags (a set created without SuppressionOptions follows the account's
  suppression list and is described without them; an empty reason list is an override); PutConfigurationSetSuppressionOptions,
  PutConfigurationSetDeliveryOptions, PutConfigurationSetSendingOptions.
- GetAccount: a new account is in the sandbox (ProductionAccessEnabled false, 200 messages a
  day, 1 a second); PutAccountSuppressionAttributes; PutAccountDetails records the request for
  production access with ReviewDetails.Status PENDING (people decide it, not the API).
- TagResource, UntagResource, ListTagsForResource for identity and configuration-set ARNs;
  tags are checked as the Tag type says (characters, lengths), at create as well.

Test hooks (not AWS APIs):
- POST /_mailinfra/ses/account?account=ID&region=R with JSON {"ProductionAccessEnabled": true,
  "ReviewStatus": "GRANTED", "Delegated": false} sets the sandbox state; `Delegated: false`
  makes SES's DNS checks find nothing, as for a domain whose registrar does not delegate to
  Route 53 (verification then stays PENDING).
- GET /_mailinfra/ses/identity?account=ID&region=R&domain=D returns the BYODKIM private key SES
  holds, so a test can assert that it appears in no output of mailinfra.
"""

import base64
import json
import random
import re
import string
import threading
import time
from urllib.parse import parse_qs, unquote

LOCK = threading.Lock()
STATE: dict = {}

# Regions whose Easy DKIM CNAMEs point at their own domain, `dkim.<region>.amazonses.com`;
# every other region uses `dkim.amazonses.com` (AWS General Reference, "Amazon Simple Email
# Service endpoints and quotas", Easy DKIM domains:
# https://docs.aws.amazon.com/general/latest/gr/ses.html#ses_dkim_domains).
REGIONAL_DKIM = {
    "af-south-1", "ap-northeast-3", "ap-south-2", "ap-southeast-3", "ap-southeast-5", "ca-west-1",
    "eu-central-2", "eu-south-1", "il-central-1", "me-central-1", "us-gov-east-1",
}


def signing_zone(region):
    return f"dkim.{region}.amazonses.com" if region in REGIONAL_DKIM else "dkim.amazonses.com"


class Error(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def not_found(what):
    return Error(404, "NotFoundException", f"{what} does not exist.")


def bad(message):
    return Error(400, "BadRequestException", message)


def state(account, region):
    key = (account, region)
    if key not in STATE:
        STATE[key] = {
            "identities": {},
            "config_sets": {},
            "account": {
                "ProductionAccessEnabled": False,
                "SendingEnabled": True,
                "SuppressedReasons": [],
                "Details": None,
                "Delegated": True,
            },
        }
    return STATE[key]


def tokens():
    return ["".join(random.choices(string.ascii_lowercase + string.digits, k=32)) for _ in range(3)]


# ---- DNS, as SES sees it: the same account's Route 53 -------------------------------------


def dns_records(account, region):
    from moto.route53.models import route53_backends

    found = []
    try:
        # Route 53 is global within a partition: a GovCloud account has its own zones.
        backend = route53_backends[account][partition(region)]
    except KeyError:
        return found
    for zone in list(backend.zones.values()):
        for rr in list(zone.rrsets):
            found.append((rr.name.lower().rstrip("."), rr.type, list(rr.records or [])))
    return found


def txt_text(value):
    return "".join(re.findall(r'"((?:[^"\\]|\\.)*)"', value)) if '"' in value else value


def public_key_of(private_b64):
    from cryptography.hazmat.primitives import serialization

    der = base64.b64decode(private_b64)
    try:
        key = serialization.load_der_private_key(der, password=None)
    except ValueError:
        from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: F401

        key = serialization.load_der_private_key(der, password=None)
    pub = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(pub).decode()


def refresh(account, region, domain, ident):
    """Recomputes the statuses of one identity from DNS, as SES's periodic checks do."""
    delegated = STATE[(account, region)]["account"]["Delegated"]
    records = dns_records(account, region) if delegated else []
    now = time.time()
    dkim = ident["dkim"]
    if dkim["origin"] == "AWS_SES":
        ok = all(
            any(
                n == f"{t}._domainkey.{domain}" and ty == "CNAME" and any(v.lower().rstrip(".") == f"{t}.{signing_zone(region)}" for v in vals)
                for n, ty, vals in records
            )
            for t in dkim["tokens"]
        )
    else:
        want = public_key_of(dkim["private_key"])
        ok = any(
            n == f"{dkim['selector']}._domainkey.{domain}"
            and ty == "TXT"
            and any(f"p={want}" in txt_text(v).replace(" ", "") for v in vals)
            for n, ty, vals in records
        )
    dkim["status"] = "SUCCESS" if ok else "PENDING"
    ident["verification"] = "SUCCESS" if ok else "PENDING"
    ident["last_checked"] = now
    if ok and ident.get("first_success") is None:
        ident["first_success"] = now
    mf = ident.get("mail_from")
    if mf:
        target = f"feedback-smtp.{region}.amazonses.com"
        mx_ok = any(
            n == mf["domain"] and ty == "MX" and any(v.split()[-1].lower().rstrip(".") == target for v in vals)
            for n, ty, vals in records
        )
        mf["status"] = "SUCCESS" if mx_ok else "PENDING"


# ---- operations ---------------------------------------------------------------------------


def partition(region):
    """The partition of a region, by the region patterns of the AWS SDKs' partitions.json."""
    for prefix, name in (("cn-", "aws-cn"), ("us-gov-", "aws-us-gov"), ("us-isob-", "aws-iso-b"), ("us-iso-", "aws-iso")):
        if region.startswith(prefix):
            return name
    return "aws"


def identity_arn(account, region, name):
    return f"arn:{partition(region)}:ses:{region}:{account}:identity/{name}"


def config_set_arn(account, region, name):
    return f"arn:{partition(region)}:ses:{region}:{account}:configuration-set/{name}"


def tagged_resources(account, region, body):
    """Resource Groups Tagging API GetResources for SES identities and configuration sets.

    A resource matches when it has every filter's key with one of its values (any value when
    the filter lists none), and one of the ResourceTypeFilters (`ses`, `ses:identity`,
    `ses:configuration-set`). Pages of ResourcesPerPage (at most 100) with a PaginationToken;
    an empty token ends the listing (API_GetResources, Resource Groups Tagging API reference).
    """
    types = body.get("ResourceTypeFilters") or ["ses"]
    filters = body.get("TagFilters") or []
    per_page = min(int(body.get("ResourcesPerPage") or 50), 100)
    start = int(body.get("PaginationToken") or 0)
    with LOCK:
        st = state(account, region)
        found = [("identity", n, i["tags"]) for n, i in sorted(st["identities"].items())]
        found += [("configuration-set", n, c.get("Tags") or []) for n, c in sorted(st["config_sets"].items())]
    out = []
    for kind, name, tags in found:
        if not any(t in ("ses", f"ses:{kind}") for t in types) or not tags:
            continue
        have = {t["Key"]: t["Value"] for t in tags}
        if all(f["Key"] in have and (not f.get("Values") or have[f["Key"]] in f["Values"]) for f in filters):
            arn = (identity_arn if kind == "identity" else config_set_arn)(account, region, name)
            out.append({"ResourceARN": arn, "Tags": tags})
    chunk = out[start : start + per_page]
    token = str(start + per_page) if start + per_page < len(out) else ""
    return {"PaginationToken": token, "ResourceTagMappingList": chunk}


def dkim_view(dkim, region):
    out = {
        "SigningEnabled": dkim["signing_enabled"],
        "Status": dkim["status"],
        "SigningAttributesOrigin": dkim["origin"],
    }
    if dkim["origin"] == "AWS_SES":
        out["Tokens"] = list(dkim["tokens"])
        out["SigningHostedZone"] = signing_zone(region)
        # The key in use, the length of the next one SES generates, and when it last did
        # (DkimAttributes, SES API v2 reference).
        out["NextSigningKeyLength"] = dkim["key_length"]
        out["CurrentSigningKeyLength"] = dkim.get("current_length", dkim["key_length"])
        out["LastKeyGenerationTimestamp"] = dkim.get("generated", 0)
    else:
        # For BYODKIM, Tokens holds the selector (DkimAttributes, SES API v2 reference).
        out["Tokens"] = [dkim["selector"]]
    return out


def set_dkim(ident, origin, attrs):
    previous = ident.get("dkim") or {}
    if origin == "AWS_SES" and previous.get("origin") == "AWS_SES":
        # Easy DKIM already: only the length of the next key pair changes; the tokens and the
        # key in use stay until SES generates the next pair ("[Easy DKIM] The key length of
        # the future DKIM key pair to be generated. This can be changed at most once per
        # day.", DkimSigningAttributes; SES Developer Guide, "DKIM signing key length": not
        # to the length already configured, not more than once in 24 hours). The error code
        # for either refusal is not documented: BadRequestException here.
        length = (attrs or {}).get("NextSigningKeyLength") or previous["key_length"]
        if length == previous["key_length"]:
            raise bad(f"The DKIM key length of this identity is already {length}.")
        if time.time() - previous.get("length_changed", 0) < 86400:
            raise bad("The DKIM key length can be changed at most once in 24 hours.")
        previous["key_length"] = length
        previous["length_changed"] = time.time()
        return
    if origin == "AWS_SES":
        length = (attrs or {}).get("NextSigningKeyLength") or "RSA_2048_BIT"
        ident["dkim"] = {
            "origin": "AWS_SES",
            "tokens": tokens(),
            "key_length": length,
            "current_length": length,
            "generated": time.time(),
            "signing_enabled": True,
            "status": "PENDING",
        }
    elif origin == "EXTERNAL":
        attrs = attrs or {}
        selector = attrs.get("DomainSigningSelector")
        key = attrs.get("DomainSigningPrivateKey")
        if not selector or not key:
            raise bad("DomainSigningSelector and DomainSigningPrivateKey are required for EXTERNAL signing.")
        try:
            public_key_of(key)
        except Exception:
            raise bad("The DomainSigningPrivateKey is not a valid base64-encoded RSA private key.")
        ident["dkim"] = {"origin": "EXTERNAL", "selector": selector, "private_key": key, "signing_enabled": True, "status": "PENDING"}
    else:
        raise bad(f"Unsupported SigningAttributesOrigin {origin}.")


def create_identity(ctx, body, _m):
    st = ctx["state"]
    name = body.get("EmailIdentity", "").lower()
    if not name:
        raise bad("EmailIdentity is required.")
    if name in st["identities"]:
        raise Error(400, "AlreadyExistsException", f"Email identity {name} already exist.")
    cs = body.get("ConfigurationSetName")
    if cs and cs not in st["config_sets"]:
        raise not_found(f"Configuration set <{cs}>")
    check_tags(body.get("Tags"))
    ident = {"type": "DOMAIN" if "@" not in name else "EMAIL_ADDRESS", "tags": body.get("Tags") or [], "config_set": cs, "mail_from": None}
    if body.get("DkimSigningAttributes", {}).get("DomainSigningPrivateKey"):
        set_dkim(ident, "EXTERNAL", body["DkimSigningAttributes"])
    else:
        set_dkim(ident, "AWS_SES", body.get("DkimSigningAttributes"))
    st["identities"][name] = ident
    refresh(ctx["account"], ctx["region"], name, ident)
    return {"IdentityType": ident["type"], "VerifiedForSendingStatus": ident["verification"] == "SUCCESS", "DkimAttributes": dkim_view(ident["dkim"], ctx["region"])}


def get_ident(ctx, name):
    ident = ctx["state"]["identities"].get(name.lower())
    if ident is None:
        raise not_found(f"Email identity <{name}>")
    return ident


def get_identity(ctx, _body, m):
    name = m.group(1).lower()
    ident = get_ident(ctx, name)
    refresh(ctx["account"], ctx["region"], name, ident)
    out = {
        "IdentityType": ident["type"],
        "FeedbackForwardingStatus": True,
        "VerifiedForSendingStatus": ident["verification"] == "SUCCESS",
        "VerificationStatus": ident["verification"],
        "DkimAttributes": dkim_view(ident["dkim"], ctx["region"]),
        "Policies": {},
        "Tags": ident["tags"],
        "VerificationInfo": {"LastCheckedTimestamp": ident["last_checked"]},
    }
    if ident.get("first_success"):
        out["VerificationInfo"]["LastSuccessTimestamp"] = ident["first_success"]
    mf = ident.get("mail_from")
    out["MailFromAttributes"] = (
        {"MailFromDomain": mf["domain"], "MailFromDomainStatus": mf["status"], "BehaviorOnMxFailure": mf["behavior"]}
        if mf
        else {"MailFromDomain": "", "MailFromDomainStatus": "FAILED", "BehaviorOnMxFailure": "USE_DEFAULT_VALUE"}
    )
    if ident.get("config_set"):
        out["ConfigurationSetName"] = ident["config_set"]
    return out


def page(items, body):
    size = int(body.get("PageSize") or 1000)
    start = int(body.get("NextToken") or 0)
    chunk = items[start : start + size]
    nxt = str(start + size) if start + size < len(items) else None
    return chunk, nxt


def list_identities(ctx, body, _m):
    st = ctx["state"]
    items = []
    for name in sorted(st["identities"]):
        ident = st["identities"][name]
        refresh(ctx["account"], ctx["region"], name, ident)
        items.append({"IdentityType": ident["type"], "IdentityName": name, "SendingEnabled": True, "VerificationStatus": ident["verification"]})
    chunk, nxt = page(items, body)
    out = {"EmailIdentities": chunk}
    if nxt:
        out["NextToken"] = nxt
    return out


def delete_identity(ctx, _body, m):
    name = m.group(1).lower()
    get_ident(ctx, name)
    del ctx["state"]["identities"][name]
    return {}


def put_mail_from(ctx, body, m):
    name = m.group(1).lower()
    ident = get_ident(ctx, name)
    domain = (body.get("MailFromDomain") or "").lower().rstrip(".")
    behavior = body.get("BehaviorOnMxFailure") or "USE_DEFAULT_VALUE"
    if behavior not in ("USE_DEFAULT_VALUE", "REJECT_MESSAGE"):
        raise bad(f"Invalid BehaviorOnMxFailure {behavior}.")
    if not domain:
        ident["mail_from"] = None
        return {}
    if not domain.endswith("." + name):
        raise bad(f"MAIL FROM domain {domain} is not a subdomain of the identity {name}.")
    ident["mail_from"] = {"domain": domain, "behavior": behavior, "status": "PENDING"}
    return {}


def put_dkim_signing(ctx, body, m):
    name = m.group(1).lower()
    ident = get_ident(ctx, name)
    set_dkim(ident, body.get("SigningAttributesOrigin"), body.get("SigningAttributes"))
    refresh(ctx["account"], ctx["region"], name, ident)
    out = {"DkimStatus": ident["dkim"]["status"]}
    if ident["dkim"]["origin"] == "AWS_SES":
        out["DkimTokens"] = list(ident["dkim"]["tokens"])
        out["SigningHostedZone"] = signing_zone(ctx["region"])
    return out


def put_dkim(ctx, body, m):
    ident = get_ident(ctx, m.group(1))
    ident["dkim"]["signing_enabled"] = bool(body.get("SigningEnabled"))
    return {}


def put_identity_config_set(ctx, body, m):
    ident = get_ident(ctx, m.group(1))
    cs = body.get("ConfigurationSetName")
    if cs and cs not in ctx["state"]["config_sets"]:
        raise not_found(f"Configuration set <{cs}>")
    ident["config_set"] = cs or None
    return {}


def get_cs(ctx, name):
    cs = ctx["state"]["config_sets"].get(name)
    if cs is None:
        raise not_found(f"Configuration set <{name}>")
    return cs


def create_config_set(ctx, body, _m):
    name = body.get("ConfigurationSetName")
    if not name:
        raise bad("ConfigurationSetName is required.")
    if name in ctx["state"]["config_sets"]:
        raise Error(400, "AlreadyExistsException", f"Configuration set <{name}> already exists.")
    check_tags(body.get("Tags"))
    ctx["state"]["config_sets"][name] = {
        "DeliveryOptions": body.get("DeliveryOptions") or {"TlsPolicy": "OPTIONAL"},
        "SendingOptions": body.get("SendingOptions") or {"SendingEnabled": True},
        # Absent: the set follows the account's suppression list, and GetConfigurationSet
        # answers without SuppressionOptions; `{"SuppressedReasons": []}` overrides the account
        # list with nothing (SES developer guide, "Configuration set-level suppression").
        "SuppressionOptions": body.get("SuppressionOptions"),
        "ReputationOptions": body.get("ReputationOptions") or {"ReputationMetricsEnabled": False},
        "Tags": body.get("Tags") or [],
    }
    return {}


def get_config_set(ctx, _body, m):
    name = unquote(m.group(1))
    cs = get_cs(ctx, name)
    return {k: v for k, v in dict(cs, ConfigurationSetName=name).items() if v is not None}


def list_config_sets(ctx, body, _m):
    chunk, nxt = page(sorted(ctx["state"]["config_sets"]), body)
    out = {"ConfigurationSets": chunk}
    if nxt:
        out["NextToken"] = nxt
    return out


def delete_config_set(ctx, _body, m):
    name = unquote(m.group(1))
    get_cs(ctx, name)
    del ctx["state"]["config_sets"][name]
    return {}


def reasons(body):
    rs = body.get("SuppressedReasons") or []
    for r in rs:
        if r not in ("BOUNCE", "COMPLAINT"):
            raise bad(f"Invalid suppression reason {r}.")
    return rs


def put_cs_suppression(ctx, body, m):
    get_cs(ctx, unquote(m.group(1)))["SuppressionOptions"] = {"SuppressedReasons": reasons(body)}
    return {}


def put_cs_delivery(ctx, body, m):
    cs = get_cs(ctx, unquote(m.group(1)))
    tls = body.get("TlsPolicy") or "OPTIONAL"
    if tls not in ("REQUIRE", "OPTIONAL"):
        raise bad(f"Invalid TlsPolicy {tls}.")
    opts = {"TlsPolicy": tls}
    for k in ("SendingPoolName", "MaxDeliverySeconds"):
        if body.get(k) is not None:
            opts[k] = body[k]
    cs["DeliveryOptions"] = opts
    return {}


def put_cs_sending(ctx, body, m):
    get_cs(ctx, unquote(m.group(1)))["SendingOptions"] = {"SendingEnabled": bool(body.get("SendingEnabled"))}
    return {}


def get_account(ctx, _body, _m):
    acct = ctx["state"]["account"]
    prod = acct["ProductionAccessEnabled"]
    out = {
        "DedicatedIpAutoWarmupEnabled": False,
        "EnforcementStatus": "HEALTHY",
        "ProductionAccessEnabled": prod,
        "SendQuota": {"Max24HourSend": 50000.0 if prod else 200.0, "MaxSendRate": 14.0 if prod else 1.0, "SentLast24Hours": 0.0},
        "SendingEnabled": acct["SendingEnabled"],
        "SuppressionAttributes": {"SuppressedReasons": list(acct["SuppressedReasons"])},
    }
    if acct["Details"]:
        out["Details"] = acct["Details"]
    return out


def put_account_suppression(ctx, body, _m):
    ctx["state"]["account"]["SuppressedReasons"] = reasons(body)
    return {}


def put_account_details(ctx, body, _m):
    for k in ("MailType", "WebsiteURL"):
        if not body.get(k):
            raise bad(f"{k} is required.")
    if body.get("MailType") not in ("MARKETING", "TRANSACTIONAL"):
        raise bad("MailType must be MARKETING or TRANSACTIONAL.")
    details = {k: body[k] for k in ("MailType", "WebsiteURL", "ContactLanguage", "UseCaseDescription", "AdditionalContactEmailAddresses") if k in body}
    if body.get("ProductionAccessEnabled"):
        details["ReviewDetails"] = {"Status": "PENDING", "CaseId": "case-" + "".join(random.choices(string.digits, k=10))}
    ctx["state"]["account"]["Details"] = details
    return {}


def resource(ctx, arn):
    m = re.match(r"^arn:([a-z-]+):ses:([^:]+):\d+:(identity|configuration-set)/(.+)$", arn or "")
    # The partition and region must be the request's: an `arn:aws:` ARN is not valid in
    # aws-us-gov or aws-cn (Amazon Resource Names, IAM User Guide).
    if not m or m.group(1) != partition(ctx["region"]) or m.group(2) != ctx["region"]:
        raise bad(f"Invalid ResourceArn {arn}.")
    if m.group(3) == "identity":
        return get_ident(ctx, m.group(4))
    return get_cs(ctx, m.group(4))


def check_tags(tags):
    """SES v2 API Reference, Tag: a key of 1 to 128 characters, a value of up to 256; "The
    characters can be Unicode letters, digits, white space, or one of the following symbols:
    _ . : / = + -." The error for others is not documented: BadRequestException here."""
    ok = lambda text: all(ch.isalnum() or ch.isspace() or ch in "_.:/=+-" for ch in text)
    for t in tags or []:
        key, value = t.get("Key", ""), t.get("Value", "")
        if not 1 <= len(key) <= 128 or len(value) > 256 or not ok(key) or not ok(value):
            raise bad(f"Invalid tag {key!r}={value!r}: letters, digits, white space and _ . : / = + - only.")


def tags_of(obj):
    return obj.get("tags") if "tags" in obj else obj.setdefault("Tags", [])


def tag_resource(ctx, body, _m):
    obj = resource(ctx, body.get("ResourceArn"))
    check_tags(body.get("Tags"))
    tags = tags_of(obj)
    for t in body.get("Tags") or []:
        tags[:] = [x for x in tags if x["Key"] != t["Key"]] + [t]
    return {}


def untag_resource(ctx, _body, _m):
    q = ctx["query"]
    obj = resource(ctx, (q.get("ResourceArn") or [None])[0])
    keys = set(q.get("TagKeys") or [])
    tags = tags_of(obj)
    tags[:] = [t for t in tags if t["Key"] not in keys]
    return {}


def list_tags(ctx, _body, _m):
    obj = resource(ctx, (ctx["query"].get("ResourceArn") or [None])[0])
    return {"Tags": tags_of(obj)}


ID = r"([^/]+)"
ROUTES = [
    ("POST", r"^/v2/email/identities$", "CreateEmailIdentity", create_identity),
    ("GET", rf"^/v2/email/identities/{ID}$", "GetEmailIdentity", get_identity),
    ("DELETE", rf"^/v2/email/identities/{ID}$", "DeleteEmailIdentity", delete_identity),
    ("POST", r"^/v2/email/list-identities$", "ListEmailIdentities", list_identities),
    ("PUT", rf"^/v2/email/identities/{ID}/mail-from$", "PutEmailIdentityMailFromAttributes", put_mail_from),
    ("PUT", rf"^/v2/email/identities/{ID}/dkim/signing$", "PutEmailIdentityDkimSigningAttributes", put_dkim_signing),
    ("PUT", rf"^/v2/email/identities/{ID}/dkim$", "PutEmailIdentityDkimAttributes", put_dkim),
    ("PUT", rf"^/v2/email/identities/{ID}/configuration-set$", "PutEmailIdentityConfigurationSetAttributes", put_identity_config_set),
    ("POST", r"^/v2/email/configuration-sets$", "CreateConfigurationSet", create_config_set),
    ("GET", rf"^/v2/email/configuration-sets/{ID}$", "GetConfigurationSet", get_config_set),
    ("DELETE", rf"^/v2/email/configuration-sets/{ID}$", "DeleteConfigurationSet", delete_config_set),
    ("POST", r"^/v2/email/list-configuration-sets$", "ListConfigurationSets", list_config_sets),
    ("PUT", rf"^/v2/email/configuration-sets/{ID}/suppression-options$", "PutConfigurationSetSuppressionOptions", put_cs_suppression),
    ("PUT", rf"^/v2/email/configuration-sets/{ID}/delivery-options$", "PutConfigurationSetDeliveryOptions", put_cs_delivery),
    ("PUT", rf"^/v2/email/configuration-sets/{ID}/sending$", "PutConfigurationSetSendingOptions", put_cs_sending),
    ("GET", r"^/v2/email/account$", "GetAccount", get_account),
    ("PUT", r"^/v2/email/account/suppression$", "PutAccountSuppressionAttributes", put_account_suppression),
    ("POST", r"^/v2/email/account/details$", "PutAccountDetails", put_account_details),
    ("POST", r"^/v2/email/tags$", "TagResource", tag_resource),
    ("DELETE", r"^/v2/email/tags$", "UntagResource", untag_resource),
    ("GET", r"^/v2/email/tags$", "ListTagsForResource", list_tags),
]


def match(method, path):
    for m, pattern, name, handler in ROUTES:
        if m == method:
            found = re.match(pattern, path)
            if found:
                return name, handler, found
    return None


def respond(start_response, status, body, headers=()):
    data = json.dumps(body).encode()
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found"}.get(status, "Error")
    start_response(f"{status} {reason}", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))] + list(headers))
    return [data]


def handle(environ, start_response, account, region, body_bytes):
    method = environ.get("REQUEST_METHOD", "GET")
    path = unquote(environ.get("PATH_INFO", ""))
    found = match(method, environ.get("PATH_INFO", ""))
    if found is None:
        return None
    _name, handler, m = found
    try:
        body = json.loads(body_bytes or b"{}") if body_bytes else {}
    except ValueError:
        body = {}
    ctx = {"account": account, "region": region, "query": parse_qs(environ.get("QUERY_STRING", "")), "path": path}
    with LOCK:
        ctx["state"] = state(account, region)
        try:
            out = handler(ctx, body, m)
        except Error as e:
            return respond(start_response, e.status, {"message": e.message}, [("x-amzn-ErrorType", e.code)])
    return respond(start_response, 200, out)


def get_resources(start_response, account, region, body_bytes):
    """GetResources when every ResourceTypeFilter is SES's: this module holds SES's state, so
    moto's own tagging API cannot see it. Other requests return None and go to moto."""
    try:
        body = json.loads(body_bytes or b"{}")
    except ValueError:
        return None
    types = body.get("ResourceTypeFilters") or []
    if not types or not all(t == "ses" or t.startswith("ses:") for t in types):
        return None
    data = json.dumps(tagged_resources(account, region, body)).encode()
    start_response("200 OK", [("Content-Type", "application/x-amz-json-1.1"), ("Content-Length", str(len(data)))])
    return [data]


def set_account(account, region, settings):
    with LOCK:
        acct = state(account, region)["account"]
        if "ProductionAccessEnabled" in settings:
            acct["ProductionAccessEnabled"] = bool(settings["ProductionAccessEnabled"])
        if "Delegated" in settings:
            acct["Delegated"] = bool(settings["Delegated"])
        if "ReviewStatus" in settings:
            details = acct["Details"] or {}
            details.setdefault("ReviewDetails", {})["Status"] = settings["ReviewStatus"]
            acct["Details"] = details


def generate_dkim_key(account, region, domain):
    """SES's own Easy DKIM key generation, which no API starts: the next key pair, of
    NextSigningKeyLength, becomes the one in use (test hook)."""
    with LOCK:
        ident = state(account, region)["identities"].get(domain)
        dkim = (ident or {}).get("dkim") or {}
        if dkim.get("origin") == "AWS_SES":
            dkim["current_length"] = dkim["key_length"]
            dkim["generated"] = time.time()


def private_key(account, region, domain):
    with LOCK:
        ident = state(account, region)["identities"].get(domain)
        return (ident or {}).get("dkim", {}).get("private_key")
