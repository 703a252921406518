"""KMS as Parameter Store uses it, for the gateway's DKIM key (a customer managed key).

- PutParameter of a SecureString with a `KeyId` that names no KMS key of the region answers
  `InvalidKeyId` (HTTP 400), as the SSM API reference lists for PutParameter
  (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html:
  "InvalidKeyId: The query key ID isn't valid"); the key may be named by key id, key ARN,
  alias name or alias ARN ("KeyId ... the Key ID, Key ARN, Alias Name, or Alias ARN"). moto
  5.2.5 stored any string.
- Which key protects a parameter, and its key policy, for the authorization in
  `iam_enforce.py`: Parameter Store encrypts and decrypts through KMS on the caller's behalf,
  with the encryption context `PARAMETER_ARN` and `kms:ViaService` =
  `ssm.<region>.amazonaws.com` (Systems Manager User Guide, "How AWS Systems Manager Parameter
  Store uses AWS KMS",
  https://docs.aws.amazon.com/kms/latest/developerguide/services-parameter-store.html). The
  AWS managed key `alias/aws/ssm` lets every principal of the account use it through SSM, so
  only a customer managed key adds a check.
"""

AWS_MANAGED = "alias/aws/ssm"


def key_of(account, region, key_id):
    """The moto Key that KEY_ID names (key id, key ARN, alias name or alias ARN), or None."""
    from moto.kms.models import kms_backends

    if not key_id:
        return None
    backend = kms_backends[account][region]
    try:
        kid = backend.any_id_to_key_id(key_id)
    except Exception:
        return None
    return backend.keys.get(kid) if kid else None


def customer_key(account, region, key_id):
    """The customer managed key KEY_ID names; None for the AWS managed `aws/ssm` (or none)."""
    if not key_id or key_id in (AWS_MANAGED,) or key_id.endswith(":" + AWS_MANAGED):
        return None
    return key_of(account, region, key_id)


def tags_of(account, region, key):
    from moto.kms.models import kms_backends

    tags = kms_backends[account][region].tagger.list_tags_for_resource(key.id).get("Tags", [])
    return {t["TagKey"]: t["TagValue"] for t in tags}


def parameter_key_id(account, region, name):
    """The KeyId stored with a SecureString parameter, or None (not found, not secure)."""
    from moto.ssm.models import ssm_backends

    try:
        p = ssm_backends[account][region].get_parameter(name)
    except Exception:
        return None
    if p is None or p.parameter_type != "SecureString":
        return None
    return p.keyid


def install() -> None:
    from moto.ssm import models as ssm_models
    from moto.ssm.exceptions import SSMException

    class InvalidKeyId(SSMException):
        def __init__(self, key_id):
            super().__init__("InvalidKeyId", f"Invalid keyId {key_id}")

    original = ssm_models.SimpleSystemManagerBackend.put_parameter

    def put_parameter(self, name, description, value, parameter_type, allowed_pattern, keyid, *args, **kwargs):
        if parameter_type == "SecureString" and keyid and keyid != AWS_MANAGED:
            if key_of(self.account_id, self.region_name, keyid) is None:
                raise InvalidKeyId(keyid)
        return original(self, name, description, value, parameter_type, allowed_pattern, keyid, *args, **kwargs)

    ssm_models.SimpleSystemManagerBackend.put_parameter = put_parameter
