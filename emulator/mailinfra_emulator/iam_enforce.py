"""IAM authorization for requests signed with an assumed role's credentials.

moto can enforce IAM (`INITIAL_NO_AUTH_ACTION_COUNT`), but it checks every request against
the resource `*` and treats a statement with a Condition it cannot evaluate as a Deny, so a
policy scoped by resource ARNs and condition keys (which `mailinfra policy` prints) is
refused for every request. This module evaluates such policies the way IAM does
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):

- Who is checked: requests signed with temporary credentials from STS AssumeRole (a CI role:
  tests assume a role holding the policy mailinfra printed). Requests signed with an
  account's long-term test key (`accounts.py`) act as the account's root and are not checked,
  so a test arranges AWS with them.
- What is checked: every request becomes one or more authorizations (action, resource ARN,
  request context), following the Service Authorization Reference for that action: the
  resource types it takes, their ARN formats, the condition keys it sets
  (https://docs.aws.amazon.com/service-authorization/latest/reference/), and the actions AWS
  checks besides (`ec2:CreateTags` for tags given at creation, with `ec2:CreateAction`;
  `iam:TagRole` for CreateRole with tags; `iam:PassRole` for RunInstances with an instance
  profile; `ssm:AddTagsToResource` for PutParameter with tags). The request is allowed only
  if every authorization is.
- How: an explicit Deny in any of the role's policies refuses; otherwise an Allow in an
  identity policy (inline or attached) is needed, and, when the role has a permissions
  boundary, an Allow in the boundary too. Action names match case-insensitively with `*` and
  `?`; resources case-sensitively; condition keys case-insensitively. Condition operators:
  String*, Arn*, Bool, Null, Numeric*, with `ForAllValues:`/`ForAnyValue:` and `...IfExists`,
  and the documented rules for keys missing from the request.
- The answer to a refused request is the service's own AccessDenied: EC2
  `UnauthorizedOperation` (HTTP 403), IAM/STS/Route 53 `AccessDenied` (403), SSM and the
  tagging API `AccessDeniedException` (400), SES v2 `AccessDeniedException` (403), each
  with the message AWS writes ("User: ARN is not authorized to perform: ACTION on
  resource: ARN because no identity-based policy allows the ACTION action").
"""

import fnmatch
import json
import re
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, unquote

from .sesv2 import partition


class Principal:
    def __init__(self, account, arn, policies, boundary, role_arn=None):
        self.account = account
        self.arn = arn
        self.role_arn = role_arn or arn  # the role's ARN (aws:PrincipalArn of a role session)
        self.policies = policies  # parsed identity policy documents
        self.boundary = boundary  # parsed boundary document, or None


class Authz:
    """One authorization AWS makes for a request."""

    def __init__(self, action, resource, context=None, key_policy=None, via=None):
        self.action = action
        self.resource = resource
        self.context = {k.lower(): v for k, v in (context or {}).items()}
        # A KMS key's policy (parsed): KMS authorizes by it first (see `_key_policy`).
        self.key_policy = key_policy
        # The service that called KMS on the caller's behalf (its refusal names AWSKMS).
        self.via = via


def principal_for(key, token, account):
    """The assumed role behind temporary credentials, or None for a key that is not one."""
    if not key or not key.startswith("ASIA"):
        return None
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    for role in sts_backends[account]["aws"].assumed_roles:
        if role.access_key_id != key:
            continue
        if token != role.session_token:
            return None
        name = role.role_arn.split("/")[-1]
        iam = iam_backends[account]["aws"]
        try:
            r = iam.get_role(name)
        except Exception:
            return Principal(account, role.arn, [], None, role.role_arn)
        docs = [json.loads(doc) for doc in r.policies.values()]
        docs += [json.loads(_default_document(p)) for p in r.managed_policies.values()]
        boundary = None
        if r.permissions_boundary_arn:
            try:
                boundary = json.loads(_default_document(iam.get_policy(r.permissions_boundary_arn)))
            except Exception:
                boundary = {"Statement": []}
        return Principal(account, role.arn, docs, boundary, r.arn)
    return None


def _default_document(policy):
    doc = next(v.document for v in policy.versions if v.is_default)
    return unquote(doc) if doc.startswith("%7B") else doc


def assume_test_role(account, name, policy):
    """Test hook: role NAME holding only POLICY (inline; a JSON list of documents for a
    policy cut into several), and credentials of a session of it, as an administrator would
    set up a CI role and CI would assume it."""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    iam = iam_backends[account]["aws"]
    # Under the path /ci/, so a test can tell them from the roles mailinfra makes.
    trust = json.dumps({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                        "Principal": {"AWS": f"arn:aws:iam::{account}:root"}}]})
    try:
        role = iam.get_role(name)
    except Exception:
        role = iam.create_role(name, trust, "/ci/", None, "test CI role", [], 3600)
    for existing in list(role.policies):
        iam.delete_role_policy(name, existing)
    # One document, or a JSON list of them (a policy `mailinfra policy --out-dir` cut into
    # several): each becomes one of the role's policies, and IAM grants their union.
    docs = json.loads(policy) if policy.lstrip().startswith("[") else [policy]
    for n, doc in enumerate(docs, 1):
        iam.put_role_policy(name, "mailinfra" if len(docs) == 1 else f"mailinfra-{n}",
                            doc if isinstance(doc, str) else json.dumps(doc))
    session = sts_backends[account]["aws"].assume_role(
        region_name="us-east-1", role_session_name="ci", role_arn=role.arn, policy=None, duration=3600, external_id=None
    )
    return {"AccessKeyId": session.access_key_id, "SecretAccessKey": session.secret_access_key,
            "SessionToken": session.session_token}


def instance_credentials(account, name):
    """Test hook: credentials of a session of the existing role NAME, its policies and
    boundary as they are: what EC2 hands an instance launched with the role's instance
    profile (through the instance metadata service), so a test can act as the gateway.
    https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/iam-roles-for-amazon-ec2.html"""
    from moto.iam.models import iam_backends
    from moto.sts.models import sts_backends

    role = iam_backends[account]["aws"].get_role(name)
    session = sts_backends[account]["aws"].assume_role(
        region_name="us-east-1", role_session_name="i-gateway", role_arn=role.arn, policy=None, duration=3600,
        external_id=None,
    )
    return {"AccessKeyId": session.access_key_id, "SecretAccessKey": session.secret_access_key,
            "SessionToken": session.session_token}


# --- evaluation ---------------------------------------------------------------------------

def _list(v):
    return v if isinstance(v, list) else [v]


def _wild(pattern, value, fold):
    if fold:
        pattern, value = pattern.lower(), value.lower()
    return fnmatch.fnmatchcase(value, pattern.replace("[", "[[]"))


def _statement_applies(st, a):
    if "Action" in st:
        if not any(_wild(p, a.action, True) for p in _list(st["Action"])):
            return False
    elif "NotAction" in st:
        if any(_wild(p, a.action, True) for p in _list(st["NotAction"])):
            return False
    if "Resource" in st:
        if not any(_wild(p, a.resource, False) for p in _list(st["Resource"])):
            return False
    elif "NotResource" in st:
        if any(_wild(p, a.resource, False) for p in _list(st["NotResource"])):
            return False
    return all(_condition(op, keys, a.context) for op, keys in st.get("Condition", {}).items())


def _match_one(base, want, have):
    if base in ("StringEquals", "StringNotEquals"):
        return want == have
    if base in ("StringEqualsIgnoreCase", "StringNotEqualsIgnoreCase"):
        return want.lower() == have.lower()
    if base in ("StringLike", "StringNotLike", "ArnLike", "ArnNotLike", "ArnEquals", "ArnNotEquals"):
        return _wild(want, have, False)
    if base == "Bool":
        return want.lower() == have.lower()
    if base.startswith("Numeric"):
        w, h = float(want), float(have)
        return {
            "NumericEquals": h == w, "NumericNotEquals": h == w, "NumericLessThan": h < w,
            "NumericLessThanEquals": h <= w, "NumericGreaterThan": h > w,
            "NumericGreaterThanEquals": h >= w,
        }[base]
    raise ValueError(f"condition operator {base} is not modelled")


NEGATED = {"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike", "ArnNotLike", "ArnNotEquals", "NumericNotEquals"}


def _condition(op, keys, context):
    qualifier, _, base = op.rpartition(":")
    if_exists = base.endswith("IfExists")
    base = base[: -len("IfExists")] if if_exists else base
    for key, wanted in keys.items():
        wanted = [str(w).lower() if isinstance(w, bool) else str(w) for w in _list(wanted)]
        present = context.get(key.lower())
        if base == "Null":
            if (present is None) != (wanted[0].lower() == "true"):
                return False
            continue
        if present is None:
            if qualifier == "ForAllValues" or if_exists or base in NEGATED:
                continue
            return False
        values = _list(present)
        negated = base in NEGATED

        def one(have):
            hit = any(_match_one(base, w, have) for w in wanted)
            return not hit if negated else hit

        if qualifier == "ForAllValues":
            ok = all(one(v) for v in values)
        elif qualifier == "ForAnyValue":
            ok = any(one(v) for v in values)
        else:
            ok = all(one(v) for v in values) if negated else any(one(v) for v in values)
        if not ok:
            return False
    return True


def _decide(docs, a):
    """'deny' (explicit), 'allow', or None (no statement applies)."""
    allowed = False
    for doc in docs:
        for st in _list(doc.get("Statement", [])):
            if _statement_applies(st, a):
                if st.get("Effect") == "Deny":
                    return "deny"
                allowed = True
    return "allow" if allowed else None


def _principal_matches(st, principal):
    """'account' (the account's root: IAM policies decide), 'direct', or None."""
    if "NotPrincipal" in st:
        return None  # not used by mailinfra's key policies; never matches here
    who = st.get("Principal")
    if who == "*":
        return "direct"
    found = None
    for p in _list((who or {}).get("AWS", [])):
        if p == "*" or p in (principal.role_arn, principal.arn):
            return "direct"
        if p == principal.account or re.fullmatch(rf"arn:[^:]+:iam::{principal.account}:root", p):
            found = "account"
    return found


def _key_policy(principal, a):
    """How a KMS key policy decides A: 'deny', 'direct', 'account', or None. KMS authorizes by
    the key policy first: "Unless the key policy explicitly allows it, you cannot use IAM
    policies to allow access to a KMS key"; a statement whose principal is the account lets
    IAM policies decide (AWS KMS Developer Guide, "Key policies in AWS KMS" and "Default key
    policy", https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html)."""
    decision = None
    for st in _list(a.key_policy.get("Statement", [])):
        who = _principal_matches(st, principal)
        if who is None or not _statement_applies(st, a):
            continue
        if st.get("Effect") == "Deny":
            return "deny"
        if who == "direct" or decision is None:
            decision = who
    return decision


def refusal(principal, checks):
    """None when every authorization is allowed; else the message AWS gives for the first
    that is not."""
    for a in checks:
        # Global condition keys of every request (IAM User Guide, "AWS global condition
        # context keys": aws:PrincipalArn is the role's ARN for a role session).
        a.context.setdefault("aws:principalarn", principal.role_arn)
        a.context.setdefault("aws:principalaccount", principal.account)
        identity = _decide(principal.policies, a)
        boundary = _decide([principal.boundary], a) if principal.boundary is not None else "allow"
        key = _key_policy(principal, a) if a.key_policy is not None else "account"
        if key == "deny":
            why = "with an explicit deny in a resource-based policy"
        elif identity == "deny":
            why = "with an explicit deny in an identity-based policy"
        elif boundary == "deny":
            why = "with an explicit deny in a permissions boundary"
        elif key is None:
            why = f"because no resource-based policy allows the {a.action} action"
        elif key == "direct" and boundary is not None:
            continue
        elif identity is None:
            why = f"because no identity-based policy allows the {a.action} action"
        elif boundary is None:
            why = f"because no permissions boundary allows the {a.action} action"
        else:
            continue
        message = f"User: {principal.arn} is not authorized to perform: {a.action} on resource: {a.resource} {why}"
        if a.via:
            # How SSM passes on KMS's refusal of a call it made for the caller.
            message += " (Service: AWSKMS; Status Code: 400; Error Code: AccessDeniedException)"
        return message
    return None


# --- requests -> authorizations -----------------------------------------------------------

def _form(query_string, body):
    form = {k: v[0] for k, v in parse_qs(query_string).items()}
    form.update({k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()})
    return form


def _numbered(form, prefix):
    """Values of `prefix.1`, `prefix.2`, ... in order."""
    out, n = [], 1
    while f"{prefix}.{n}" in form:
        out.append(form[f"{prefix}.{n}"])
        n += 1
    return out


def _tag_context(tags):
    ctx = {f"aws:RequestTag/{k}": v for k, v in tags.items()}
    if tags:
        ctx["aws:TagKeys"] = list(tags)
    return ctx


def _resource_tags(tags):
    return {f"aws:ResourceTag/{k}": v for k, v in tags.items()}


def _ec2_tag_specs(form):
    """{resource type: {key: value}} from TagSpecification.N."""
    specs, n = {}, 1
    while f"TagSpecification.{n}.ResourceType" in form:
        tags, m = {}, 1
        while f"TagSpecification.{n}.Tag.{m}.Key" in form:
            tags[form[f"TagSpecification.{n}.Tag.{m}.Key"]] = form.get(f"TagSpecification.{n}.Tag.{m}.Value", "")
            m += 1
        specs.setdefault(form[f"TagSpecification.{n}.ResourceType"], {}).update(tags)
        n += 1
    return specs


def ec2_checks(account, region, op, form):
    from moto.ec2.models import ec2_backends

    ec2 = ec2_backends[account][region]
    pt = partition(region)
    arn = lambda kind, rid: f"arn:{pt}:ec2:{region}:{account}:{kind}/{rid}"  # noqa: E731
    tags_of = lambda rid: _resource_tags(ec2.tags.get(rid, {}))  # noqa: E731
    action = f"ec2:{op}"
    if op.startswith("Describe") and op != "DescribeInstanceAttribute":
        return [Authz(action, "*")]
    if op == "DescribeInstanceAttribute":
        i = form.get("InstanceId", "")
        return [Authz(action, arn("instance", i), tags_of(i))]
    specs = _ec2_tag_specs(form)

    def created(kind, extra=None):
        """The new resource's authorization and, when tagged at creation, ec2:CreateTags."""
        tags = specs.get(kind, {})
        out = [Authz(action, arn(kind, "*"), {**_tag_context(tags), **(extra or {})})]
        if tags:
            out.append(Authz("ec2:CreateTags", arn(kind, "*"), {"ec2:CreateAction": op, **_tag_context(tags)}))
        return out

    def group(gid):
        g = ec2.get_security_group_from_id(gid)
        return Authz(action, arn("security-group", gid), {**tags_of(gid), "ec2:Vpc": arn("vpc", g.vpc_id) if g else ""})

    def address(alloc):
        return Authz(action, arn("elastic-ip", alloc), tags_of(alloc))

    if op == "CreateSecurityGroup":
        vpc = form.get("VpcId") or ""
        return [Authz(action, arn("vpc", vpc), tags_of(vpc))] + created("security-group")
    if op in ("AuthorizeSecurityGroupIngress", "RevokeSecurityGroupIngress", "DeleteSecurityGroup",
              "AuthorizeSecurityGroupEgress", "RevokeSecurityGroupEgress"):
        out = [group(form.get("GroupId", ""))]
        if op.startswith("Authorize") and "security-group-rule" in specs:
            # The rule is authorized as a resource of its own only when tagged at creation:
            # the Service Authorization Reference lists it as optional, AWS's examples
            # authorize these actions on the group alone, and tagging rules inline made such
            # policies fail (hashicorp/terraform-provider-aws#40323).
            out += created("security-group-rule")
        return out
    if op == "AllocateAddress":
        return created("elastic-ip")
    if op in ("ReleaseAddress", "ModifyAddressAttribute", "ResetAddressAttribute"):
        return [address(form.get("AllocationId", ""))]
    if op == "AssociateAddress":
        # The address and what it goes to: an instance, or a network interface (SAR:
        # elastic-ip, instance, network-interface).
        eni = form.get("NetworkInterfaceId")
        if eni:
            return [address(form.get("AllocationId", "")), Authz(action, arn("network-interface", eni), tags_of(eni))]
        i = form.get("InstanceId", "")
        return [address(form.get("AllocationId", "")), Authz(action, arn("instance", i), tags_of(i))]
    if op == "CreateNetworkInterface":
        # SAR: network-interface (aws:RequestTag, aws:TagKeys, ec2:Subnet, ec2:Vpc), subnet,
        # security-group (each group named).
        subnet = form.get("SubnetId", "")
        s = ec2.get_subnet(subnet) if subnet else None
        ctx = {"ec2:Subnet": arn("subnet", subnet), "ec2:Vpc": arn("vpc", s.vpc_id) if s else ""}
        out = [Authz(action, arn("subnet", subnet), tags_of(subnet))]
        out += [group(g) for g in _numbered(form, "SecurityGroupId")]
        return out + created("network-interface", ctx)
    if op == "DeleteNetworkInterface":
        eni = form.get("NetworkInterfaceId", "")
        return [Authz(action, arn("network-interface", eni), tags_of(eni))]
    if op in ("TerminateInstances", "StopInstances", "StartInstances", "ModifyInstanceAttribute"):
        ids = _numbered(form, "InstanceId") or [form.get("InstanceId", "")]
        return [Authz(action, arn("instance", i), tags_of(i)) for i in ids]
    if op == "CreateTags":
        tags, m = {}, 1
        while f"Tag.{m}.Key" in form:
            tags[form[f"Tag.{m}.Key"]] = form.get(f"Tag.{m}.Value", "")
            m += 1
        out = []
        for rid in _numbered(form, "ResourceId"):
            kind = {"i": "instance", "sg": "security-group", "eipalloc": "elastic-ip", "vpc": "vpc",
                    "subnet": "subnet", "vol": "volume", "eni": "network-interface"}.get(rid.split("-")[0], "unknown")
            out.append(Authz(action, arn(kind, rid), {**tags_of(rid), **_tag_context(tags)}))
        return out
    if op == "RunInstances":
        return _run_instances(account, region, form, ec2, arn, tags_of, created)
    return [Authz(action, "*")]


def _run_instances(account, region, form, ec2, arn, tags_of, created):
    action = "ec2:RunInstances"
    profile_arn = form.get("IamInstanceProfile.Arn")
    profile_name = form.get("IamInstanceProfile.Name")
    role_arns = []
    if profile_name or profile_arn:
        from moto.iam.models import iam_backends

        iam = iam_backends[account]["aws"]
        try:
            p = iam.get_instance_profile_by_arn(profile_arn) if profile_arn else iam.get_instance_profile(profile_name)
            profile_arn = p.arn
            role_arns = [r.arn for r in p.roles]
        except Exception:
            profile_arn = profile_arn or f"arn:{partition(region)}:iam::{account}:instance-profile/{profile_name}"
    instance_ctx = {
        "ec2:InstanceType": form.get("InstanceType", "m1.small"),
        "ec2:MetadataHttpTokens": form.get("MetadataOptions.HttpTokens", "optional"),
        "ec2:MetadataHttpPutResponseHopLimit": form.get("MetadataOptions.HttpPutResponseHopLimit", "1"),
        "ec2:MetadataHttpEndpoint": form.get("MetadataOptions.HttpEndpoint", "enabled"),
    }
    if profile_arn:
        instance_ctx["ec2:InstanceProfile"] = profile_arn
    out = created("instance", instance_ctx)
    image_id = form.get("ImageId", "")
    image = ec2.amis.get(image_id)
    owner = getattr(image, "owner_id", "") if image else ""
    out.append(Authz(action, f"arn:{partition(region)}:ec2:{region}::image/{image_id}", {"ec2:Owner": owner, **tags_of(image_id)}))
    for gid in _numbered(form, "SecurityGroupId"):
        out.append(Authz(action, arn("security-group", gid), tags_of(gid)))
    subnet = form.get("SubnetId")
    if subnet:
        out.append(Authz(action, arn("subnet", subnet), tags_of(subnet)))
    # An existing network interface (NetworkInterface.N.NetworkInterfaceId) is authorized as
    # itself, with its tags, and its subnet and groups as the launch's; otherwise the launch
    # creates one.
    existing = [form[k] for k in sorted(form) if re.fullmatch(r"NetworkInterface\.\d+\.NetworkInterfaceId", k)]
    for eni_id in existing:
        out.append(Authz(action, arn("network-interface", eni_id), tags_of(eni_id)))
        eni = ec2.enis.get(eni_id)
        if eni is not None:
            out.append(Authz(action, arn("subnet", eni.subnet.id), tags_of(eni.subnet.id)))
            for g in eni._group_set:
                out.append(Authz(action, arn("security-group", g.id), tags_of(g.id)))
    if not existing:
        out += created("network-interface")
    encrypted, n = "false", 1
    while f"BlockDeviceMapping.{n}.DeviceName" in form:
        if form.get(f"BlockDeviceMapping.{n}.Ebs.Encrypted", "false").lower() == "true":
            encrypted = "true"
        n += 1
    out += created("volume", {"ec2:Encrypted": encrypted})
    if form.get("KeyName"):
        out.append(Authz(action, arn("key-pair", form["KeyName"])))
    for role in role_arns:
        out.append(Authz("iam:PassRole", role, {"iam:PassedToService": "ec2.amazonaws.com"}))
    return out


def iam_checks(account, region, op, form):
    from moto.iam.models import iam_backends

    pt = partition(region)
    iam = iam_backends[account][pt]
    action = f"iam:{op}"

    def role_arn(name):
        try:
            return iam.get_role(name).arn
        except Exception:
            return f"arn:{pt}:iam::{account}:role{form.get('Path', '/')}{name}"

    def boundary(name):
        try:
            b = iam.get_role(name).permissions_boundary_arn
        except Exception:
            b = None
        return {"iam:PermissionsBoundary": b} if b else {}

    def profile_arn(name):
        try:
            return iam.get_instance_profile(name).arn
        except Exception:
            return f"arn:{pt}:iam::{account}:instance-profile{form.get('Path', '/')}{name}"

    def user_arn(name):
        try:
            return iam.get_user(name).arn
        except Exception:
            return f"arn:{pt}:iam::{account}:user{form.get('Path', '/')}{name}"

    def user_boundary(name):
        try:
            b = iam.get_user(name).permissions_boundary_arn
        except Exception:
            b = None
        return {"iam:PermissionsBoundary": b} if b else {}

    # IAM users as the Service Authorization Reference lists them (Actions defined by AWS
    # Identity and Access Management): CreateUser takes aws:RequestTag, aws:TagKeys and
    # iam:PermissionsBoundary, and with tags needs iam:TagUser too; PutUserPolicy and
    # DeleteUserPolicy take iam:PermissionsBoundary (the user's); the rest act on the user.
    user = form.get("UserName")
    if op == "CreateUser":
        tags, m = {}, 1
        while f"Tags.member.{m}.Key" in form:
            tags[form[f"Tags.member.{m}.Key"]] = form.get(f"Tags.member.{m}.Value", "")
            m += 1
        ctx = _tag_context(tags)
        if form.get("PermissionsBoundary"):
            ctx["iam:PermissionsBoundary"] = form["PermissionsBoundary"]
        out = [Authz(action, user_arn(user), ctx)]
        if tags:
            out.append(Authz("iam:TagUser", user_arn(user), _tag_context(tags)))
        return out
    if op == "PutUserPermissionsBoundary":
        return [Authz(action, user_arn(user), {"iam:PermissionsBoundary": form.get("PermissionsBoundary", "")})]
    if op in ("PutUserPolicy", "DeleteUserPolicy", "AttachUserPolicy", "DetachUserPolicy",
              "DeleteUserPermissionsBoundary"):
        return [Authz(action, user_arn(user), user_boundary(user))]
    if user and op in ("GetUser", "GetUserPolicy", "ListUserPolicies", "ListAccessKeys", "CreateAccessKey",
                       "DeleteAccessKey", "UpdateAccessKey", "TagUser", "UntagUser", "DeleteUser"):
        return [Authz(action, user_arn(user))]

    role = form.get("RoleName")
    if op == "CreateRole":
        tags, m = {}, 1
        while f"Tags.member.{m}.Key" in form:
            tags[form[f"Tags.member.{m}.Key"]] = form.get(f"Tags.member.{m}.Value", "")
            m += 1
        ctx = _tag_context(tags)
        if form.get("PermissionsBoundary"):
            ctx["iam:PermissionsBoundary"] = form["PermissionsBoundary"]
        out = [Authz(action, role_arn(role), ctx)]
        if tags:
            out.append(Authz("iam:TagRole", role_arn(role), _tag_context(tags)))
        return out
    if op == "PutRolePermissionsBoundary":
        return [Authz(action, role_arn(role), {"iam:PermissionsBoundary": form.get("PermissionsBoundary", "")})]
    if op in ("PutRolePolicy", "DeleteRolePolicy", "AttachRolePolicy", "DetachRolePolicy",
              "DeleteRolePermissionsBoundary"):
        return [Authz(action, role_arn(role), boundary(role))]
    if op == "AddRoleToInstanceProfile":
        # "The caller of this operation must be granted the PassRole permission on the IAM
        # role" (IAM API Reference, AddRoleToInstanceProfile); the role goes to EC2.
        return [Authz(action, profile_arn(form.get("InstanceProfileName", ""))),
                Authz("iam:PassRole", role_arn(role), {"iam:PassedToService": "ec2.amazonaws.com"})]
    if op in ("GetRole", "GetRolePolicy", "ListRolePolicies", "TagRole", "UntagRole", "DeleteRole"):
        return [Authz(action, role_arn(role))]
    if "InstanceProfileName" in form:
        return [Authz(action, profile_arn(form["InstanceProfileName"]))]
    if op == "CreatePolicy" or "PolicyArn" in form:
        arn = form.get("PolicyArn") or f"arn:{pt}:iam::{account}:policy{form.get('Path', '/')}{form.get('PolicyName', '')}"
        return [Authz(action, arn)]
    return [Authz(action, "*")]


def ssm_checks(account, region, op, body):
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        req = {}
    action = f"ssm:{op}"

    def arn(name):
        name = name if name.startswith("/") else "/" + name
        owner = "" if name.startswith("/aws/") else account
        return f"arn:{partition(region)}:ssm:{region}:{owner}:parameter{name}"

    def kms(kms_action, name, key_id):
        """Parameter Store's call to KMS for the caller, when a customer managed key protects
        the parameter (emulator/mailinfra_emulator/kms.py)."""
        from . import kms as kms_keys

        key = kms_keys.customer_key(account, region, key_id)
        if key is None:
            return []
        context = {**_key_context(account, region, key), "kms:ViaService": f"ssm.{region}.amazonaws.com",
                   "kms:EncryptionContext:PARAMETER_ARN": arn(name), "kms:EncryptionContextKeys": ["PARAMETER_ARN"]}
        return [Authz(kms_action, key.arn, context, key_policy=_parsed(key.policy), via="ssm")]

    def decrypt(name):
        if not req.get("WithDecryption"):
            return []
        from . import kms as kms_keys

        return kms("kms:Decrypt", name, kms_keys.parameter_key_id(account, region, name))

    if op in ("GetParameter", "DeleteParameter", "GetParameterHistory", "LabelParameterVersion"):
        name = req.get("Name", "")
        return [Authz(action, arn(name))] + (decrypt(name) if op == "GetParameter" else [])
    if op == "PutParameter":
        name = req.get("Name", "")
        tags = {t["Key"]: t.get("Value", "") for t in req.get("Tags", [])}
        out = [Authz(action, arn(name), _tag_context(tags))]
        if tags:
            out.append(Authz("ssm:AddTagsToResource", arn(name), _tag_context(tags)))
        if req.get("Type") == "SecureString":
            # A standard parameter is encrypted with kms:Encrypt (the services-parameter-store
            # page above: "Parameter Store ... calls the AWS KMS Encrypt operation").
            out += kms("kms:Encrypt", name, req.get("KeyId"))
        return out
    if op == "GetParameters":
        return [x for n in req.get("Names", []) for x in [Authz(action, arn(n))] + decrypt(n)]
    if op == "DeleteParameters":
        return [Authz(action, arn(n)) for n in req.get("Names", [])]
    if op == "GetParametersByPath":
        return [Authz(action, arn(req.get("Path", "/")))]
    return [Authz(action, "*")]


def _parsed(policy):
    try:
        return json.loads(policy)
    except (TypeError, ValueError):
        return {"Statement": []}


def _key_context(account, region, key):
    """The condition keys KMS sets for a request on KEY (Service Authorization Reference, AWS
    Key Management Service: kms:ResourceAliases, aws:ResourceTag/${TagKey}, kms:CallerAccount)."""
    from . import kms as kms_keys

    return {**_resource_tags(kms_keys.tags_of(account, region, key)),
            "kms:ResourceAliases": list(key.aliases), "kms:CallerAccount": account}


def kms_checks(account, region, op, body):
    """KMS requests: the key they act on, judged by its key policy and IAM together; CreateKey
    and ListAliases/ListKeys take `*`; CreateAlias acts on the alias and on the key
    (https://docs.aws.amazon.com/kms/latest/developerguide/kms-alias.html#alias-access:
    "kms:CreateAlias ... permission for the alias ... and for the KMS key")."""
    from . import kms as kms_keys

    try:
        req = json.loads(body or b"{}")
    except ValueError:
        req = {}
    action = f"kms:{op}"
    pt = partition(region)
    if op == "CreateKey":
        tags = {t["TagKey"]: t.get("TagValue", "") for t in req.get("Tags", [])}
        context = {**_tag_context(tags), "kms:KeySpec": req.get("KeySpec", "SYMMETRIC_DEFAULT"),
                   "kms:KeyUsage": req.get("KeyUsage", "ENCRYPT_DECRYPT"), "kms:KeyOrigin": req.get("Origin", "AWS_KMS"),
                   "kms:MultiRegion": str(bool(req.get("MultiRegion", False))).lower(),
                   "kms:BypassPolicyLockoutSafetyCheck": str(bool(req.get("BypassPolicyLockoutSafetyCheck", False))).lower()}
        out = [Authz(action, "*", context)]
        if tags:
            # "To add tags when creating a KMS key, the caller must have kms:TagResource
            # permission in an IAM policy. At a minimum, the permission must cover all KMS keys
            # in the account and Region" (AWS KMS Developer Guide, "Managing KMS key tags with
            # API operations", https://docs.aws.amazon.com/kms/latest/developerguide/manage-tags-api.html):
            # the key does not exist yet, so no key policy; the resource is every key.
            out.append(Authz("kms:TagResource", f"arn:{pt}:kms:{region}:{account}:key/*", _tag_context(tags)))
        return out

    def on_key(key_id, extra=None):
        key = kms_keys.key_of(account, region, key_id)
        if key is None:
            return []  # KMS answers NotFoundException
        ctx = {**_key_context(account, region, key), **(extra or {})}
        return [Authz(action, key.arn, ctx, key_policy=_parsed(key.policy))]

    if op in ("CreateAlias", "UpdateAlias"):
        alias = req.get("AliasName", "")
        return [Authz(action, f"arn:{pt}:kms:{region}:{account}:{alias}")] + on_key(req.get("TargetKeyId", ""))
    if op == "DeleteAlias":
        alias = req.get("AliasName", "")
        return [Authz(action, f"arn:{pt}:kms:{region}:{account}:{alias}")] + on_key(alias)
    if op in ("TagResource", "UntagResource"):
        tags = {t["TagKey"]: t.get("TagValue", "") for t in req.get("Tags", [])}
        return on_key(req.get("KeyId", ""), _tag_context(tags))
    if "KeyId" in req:
        return on_key(req["KeyId"])
    return [Authz(action, "*")]


def logs_checks(account, region, op, body):
    """CloudWatch Logs: a log group's actions act on `log-group:NAME`, a stream's on
    `log-group:NAME:log-stream:STREAM` (Service Authorization Reference, Amazon CloudWatch
    Logs: resource types log-group and log-stream); DescribeLogGroups takes `*`."""
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        req = {}
    action = f"logs:{op}"
    group = f"arn:{partition(region)}:logs:{region}:{account}:log-group:{req.get('logGroupName', '')}"
    if op in ("CreateLogStream", "PutLogEvents"):
        return [Authz(action, f"{group}:log-stream:{req.get('logStreamName', '')}")]
    if op == "CreateLogGroup":
        return [Authz(action, group, _tag_context(req.get("tags") or {}))]
    if "logGroupName" in req and op != "DescribeLogGroups":
        return [Authz(action, group)]
    return [Authz(action, "*")]


def route53_checks(region, op, path, body):
    action = f"route53:{op}"
    pt = partition(region)
    zone = lambda z: f"arn:{pt}:route53:::hostedzone/{z}"  # noqa: E731
    m = re.match(r"^/2013-04-01/hostedzone/([^/]+)", path)
    if op == "ChangeResourceRecordSets" and m:
        names, types, actions = [], [], []
        try:
            root = ET.fromstring(body)
            for change in root.iter():
                if not change.tag.endswith("}Change") and change.tag != "Change":
                    continue
                for el in change.iter():
                    tag = el.tag.rsplit("}", 1)[-1]
                    if tag == "Action":
                        actions.append(el.text.strip().upper())
                    elif tag == "Name":
                        names.append(_normalized(el.text))
                    elif tag == "Type":
                        types.append(el.text.strip().upper())
        except ET.ParseError:
            pass
        return [Authz(action, zone(m.group(1)), {
            "route53:ChangeResourceRecordSetsNormalizedRecordNames": names,
            "route53:ChangeResourceRecordSetsRecordTypes": types,
            "route53:ChangeResourceRecordSetsActions": actions,
        })]
    if m:
        return [Authz(action, zone(m.group(1)))]
    m = re.match(r"^/2013-04-01/change/([^/]+)", path)
    if m:
        return [Authz(action, f"arn:{pt}:route53:::change/{m.group(1)}")]
    m = re.match(r"^/2013-04-01/tags/hostedzone/([^/]+)$", path)
    if m:
        return [Authz(action, zone(m.group(1)))]
    if op == "ListTagsForResources":
        try:
            ids = [el.text for el in ET.fromstring(body).iter() if el.tag.rsplit("}", 1)[-1] == "ResourceId"]
        except ET.ParseError:
            ids = []
        return [Authz(action, zone(z)) for z in ids]
    return [Authz(action, "*")]


def _normalized(name):
    """A record name as route53:ChangeResourceRecordSetsNormalizedRecordNames holds it: lower
    case, without the final dot, octal escapes decoded
    (https://docs.aws.amazon.com/Route53/latest/DeveloperGuide/specifying-rrset-conditions.html)."""
    name = re.sub(r"\\(\d{3})", lambda m: chr(int(m.group(1), 8)), name.strip())
    return name.lower().rstrip(".")


def sesv2_checks(account, region, op, path, body):
    action = f"ses:{op}"
    try:
        req = json.loads(body or b"{}")
    except ValueError:
        req = {}
    from . import sesv2

    pt = partition(region)
    st = sesv2.STATE.get((account, region), {"identities": {}, "config_sets": {}})

    def owned(kind, name):
        obj = st["identities" if kind == "identity" else "config_sets"].get(name, {})
        return _resource_tags({t["Key"]: t.get("Value", "") for t in sesv2.tags_of(dict(obj))})

    def ident(n, ctx=None):
        return Authz(action, f"arn:{pt}:ses:{region}:{account}:identity/{n}", ctx if ctx is not None else owned("identity", n))

    def cset(n, ctx=None):
        return Authz(action, f"arn:{pt}:ses:{region}:{account}:configuration-set/{n}", ctx if ctx is not None else owned("configuration-set", n))

    tags = {t["Key"]: t.get("Value", "") for t in req.get("Tags", [])} if isinstance(req, dict) else {}
    if op == "CreateEmailIdentity":
        return [ident(req.get("EmailIdentity", ""), _tag_context(tags))]
    if op == "CreateConfigurationSet":
        return [cset(req.get("ConfigurationSetName", ""), _tag_context(tags))]
    if op in ("TagResource", "UntagResource"):
        m = re.match(r"^arn:[^:]+:ses:[^:]*:[^:]*:(identity|configuration-set)/(.+)$", req.get("ResourceArn", ""))
        existing = owned(m.group(1), m.group(2)) if m else {}
        return [Authz(action, req.get("ResourceArn", ""), {**existing, **_tag_context(tags)})]
    m = re.match(r"^/v[12]/email/identities/([^/]+)", path)
    if m:
        return [ident(unquote(m.group(1)))]
    m = re.match(r"^/v[12]/email/configuration-sets/([^/]+)", path)
    if m:
        return [cset(unquote(m.group(1)))]
    return [Authz(action, "*")]


def checks(account, region, service, op, path, query_string, body):
    """The authorizations AWS makes for one request."""
    if service == "ec2":
        return ec2_checks(account, region, op, _form(query_string, body))
    if service == "iam":
        return iam_checks(account, region, op, _form(query_string, body))
    if service == "ssm":
        return ssm_checks(account, region, op, body)
    if service == "route53":
        return route53_checks(region, op, path, body)
    if service == "kms":
        return kms_checks(account, region, op, body)
    if service == "logs":
        return logs_checks(account, region, op, body)
    if service == "ses":
        return sesv2_checks(account, region, op, path, body)
    if service == "sts" and op == "GetCallerIdentity":
        return []  # always allowed, whatever the policies say (STS API reference)
    if service == "tagging":
        return [Authz(f"tag:{op}", "*")]
    return [Authz(f"{service}:{op}", "*")]


# --- answers ------------------------------------------------------------------------------

def denied(start_response, service, op, message):
    request_id = str(uuid.uuid4())
    if service == "ec2":
        status = "403 Forbidden"
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>UnauthorizedOperation</Code>'
            f"<Message>You are not authorized to perform this operation. {_xml(message)}</Message>"
            f"</Error></Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    elif service in ("iam", "sts", "route53"):
        ns = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/", "sts": "https://sts.amazonaws.com/doc/2011-06-15/",
              "route53": "https://route53.amazonaws.com/doc/2013-04-01/"}[service]
        status = "403 Forbidden"
        body = (
            f'<?xml version="1.0"?>\n<ErrorResponse xmlns="{ns}"><Error><Type>Sender</Type><Code>AccessDenied</Code>'
            f"<Message>{_xml(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml")]
    elif service == "ses":
        status = "403 Forbidden"
        body = json.dumps({"message": message}).encode()
        headers = [("Content-Type", "application/json"), ("x-amzn-ErrorType", "AccessDeniedException")]
    else:
        status = "400 Bad Request"
        body = json.dumps({"__type": "AccessDeniedException", "Message": message}).encode()
        headers = [("Content-Type", "application/x-amz-json-1.1")]
    start_response(status, headers + [("x-amzn-RequestId", request_id), ("Content-Length", str(len(body)))])
    return [body]


def _xml(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
