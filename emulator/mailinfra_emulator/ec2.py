"""EC2 and SSM behaviours the relay gateway relies on, as the EC2 API reference describes them.

- RunInstances with a ClientToken is idempotent: the same token returns the instances the
  first request launched, never a second set (moto launched new ones every time), in their
  current state; the same token with other parameters is refused with
  IdempotentParameterMismatch, and a token whose instance has since been terminated with
  IdempotentInstanceTerminated (EC2 keeps tokens at least 24 h after termination).
  https://docs.aws.amazon.com/ec2/latest/devguide/ec2-api-idempotency.html
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/errors-overview.html
- An instance can terminate during launch (an EBS KMS key the caller may not use, volume
  limits, capacity): RunInstances answers `pending`, DescribeInstances then shows it
  terminated with its StateReason. The fail-next-launch test hook (front.py) does that.
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_StateReason.html
- A reverse DNS update can fail: PtrRecordUpdate Status FAILED with a Reason (the
  fail-next-ptr test hook). https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_PtrUpdateStatus.html
- ModifyAddressAttribute (DomainName) sets an Elastic IP's reverse DNS: the update is PENDING
  until the account's Route 53 holds an A record of that name pointing at the address, then
  done (PtrRecord set). DescribeAddressesAttribute (Attribute=domain-name) reports PtrRecord
  and PtrRecordUpdate{Value, Status, Reason}; ResetAddressAttribute removes it. moto answered
  500 for Modify and Reset and never reported a PTR.
- ReleaseAddress is refused while the address is associated (InvalidIPAddress.InUse, as in a
  non-default VPC) and while it has reverse DNS (InvalidAddress.Locked: "locked to your
  account" until the PTR is reset). moto released it silently.
- AllocateAddress gives a public address (from the documentation ranges 198.51.100.0/24 and
  203.0.113.0/24, which route nowhere), as EC2 allocates public IPv4 addresses; moto drew
  them from 127.0.0.0/8, where resolvers answer reverse lookups with `localhost` (RFC 6761).
- TerminateInstances disassociates the instances' Elastic IPs, as EC2 does when an instance
  is terminated (moto left the address associated with the terminated instance).
- Debian 12's public SSM parameters (/aws/service/debian/release/12/latest/amd64 and
  .../bookworm/latest/amd64) resolve to a Debian 12 image that DescribeImages knows, owned by
  Debian's account 136693071363, as Debian publishes them.
"""

import datetime
from collections import defaultdict

DEBIAN_OWNER = "136693071363"
DEBIAN_AMI = "ami-0d3b1a2c4e5f60712"
DEBIAN_PARAMS = ("/aws/service/debian/release/12/latest/amd64", "/aws/service/debian/release/bookworm/latest/amd64")


class Error(Exception):
    pass


def _ptr_done(account, eip):
    """Whether the account's Route 53 holds `A <ptr value> -> <eip>`."""
    from moto.route53.models import route53_backends

    want = (eip.mailinfra_ptr_value or "").lower().rstrip(".")
    try:
        backend = route53_backends[account]["aws"]
    except KeyError:
        return False
    for zone in list(backend.zones.values()):
        for rr in list(zone.rrsets):
            if rr.type == "A" and rr.name.lower().rstrip(".") == want and eip.public_ip in (rr.records or []):
                return True
    return False


def _refresh_ptr(account, eip):
    value = getattr(eip, "mailinfra_ptr_value", None)
    if not value:
        eip.ptr_record = None
        eip.ptr_record_update = None
        return
    failed = getattr(eip, "mailinfra_ptr_failed", None)
    if failed:
        eip.ptr_record = getattr(eip, "mailinfra_ptr_done", None)
        eip.ptr_record_update = {"Value": value, "Status": "FAILED", "Reason": failed}
        return
    if _ptr_done(account, eip):
        eip.ptr_record = value.rstrip(".") + "."
        eip.ptr_record_update = None
    else:
        eip.ptr_record = getattr(eip, "mailinfra_ptr_done", None)
        eip.ptr_record_update = {
            "Value": value,
            "Status": "PENDING",
            "Reason": f"waiting for the forward A record {value} -> {eip.public_ip}",
        }


# Test hook state: account -> (code, message) for the account's next RunInstances, whose
# instance then terminates during launch with that StateReason (front.py serves the hook).
FAIL_NEXT_LAUNCH = {}
# Test hook state: account -> reason for the account's next ModifyAddressAttribute, whose
# PtrRecordUpdate then ends FAILED with that reason.
FAIL_NEXT_PTR = {}


def _arm_launch_failure(account, reservation):
    """Marks the instances just launched to terminate at launch, when the hook asks for it."""
    failure = FAIL_NEXT_LAUNCH.pop(account, None)
    if failure is None or reservation is None:
        return
    for instance in getattr(reservation, "instances", None) or []:
        instance.mailinfra_fail_at_launch = failure


def _fail_pending_launches(backend):
    """Instances marked to fail at launch go from pending to terminated, with their reason: the
    RunInstances answer said `pending`, the next look sees them gone, as on EC2."""
    from moto.ec2.models.instances import StateReason

    for reservation in list(backend.reservations.values()):
        for instance in reservation.instances:
            failure = getattr(instance, "mailinfra_fail_at_launch", None)
            if failure is None:
                continue
            instance.mailinfra_fail_at_launch = None
            instance.terminate()
            code, message = failure
            instance.state_reason = StateReason(message, code)
            instance._reason = message


def install() -> None:
    from moto.core.responses import ActionResult
    from moto.ec2.models import amis as ami_models
    from moto.ec2.responses.elastic_ip_addresses import ElasticIPAddresses
    from moto.ec2.responses.instances import InstanceResponse
    from moto.ssm import models as ssm_models

    # --- RunInstances idempotency -------------------------------------------------------
    original_run = InstanceResponse.run_instances

    def run_instances(self):
        token = self._get_param("ClientToken")
        if token:
            seen = getattr(self.ec2_backend, "mailinfra_tokens", None)
            if seen is None:
                seen = self.ec2_backend.mailinfra_tokens = {}
            asked = sorted(
                (k, str(v)) for k, v in self.querystring.items() if k not in ("ClientToken", "Action", "Version")
            )
            if token in seen:
                self.error_on_dryrun()
                if seen[token][0] != asked:
                    self.ec2_backend.raise_error(
                        "IdempotentParameterMismatch",
                        "Arguments on this idempotent request are inconsistent with arguments used in previous request(s).",
                    )
                _fail_pending_launches(self.ec2_backend)
                instances = list(getattr(seen[token][1], "instances", None) or [])
                if instances and all(getattr(i._state, "name", "") == "terminated" for i in instances):
                    self.ec2_backend.raise_error(
                        "IdempotentInstanceTerminated",
                        "The client token has already been used for a request that launched an instance which has since been terminated.",
                    )
                return ActionResult(seen[token][1])
            result = original_run(self)
            # The reservation is what the response serializes.
            reservation = result.result if hasattr(result, "result") else None
            if reservation is None:
                reservation = getattr(result, "_result", None)
            if reservation is not None:
                seen[token] = (asked, reservation)
            _arm_launch_failure(self.current_account, reservation)
            return result
        result = original_run(self)
        reservation = result.result if hasattr(result, "result") else getattr(result, "_result", None)
        _arm_launch_failure(self.current_account, reservation)
        return result

    InstanceResponse.run_instances = run_instances

    # moto answers every RunInstances with `pending`; an instance a repeated token returns may
    # since have stopped or terminated, and EC2 reports that state.
    from moto.ec2.responses._base_response import EC2BaseResponse

    def launch_state(state):
        name = getattr(state, "name", state)
        code = getattr(state, "code", None)
        if name in ("shutting-down", "terminated", "stopping", "stopped") and code is not None:
            return {"Code": code, "Name": name}
        return {"Code": 0, "Name": "pending"}

    EC2BaseResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER["RunInstances.Reservation.Instances.Instance.State"] = launch_state

    original_describe = InstanceResponse.describe_instances

    def describe_instances(self):
        _fail_pending_launches(self.ec2_backend)
        return original_describe(self)

    InstanceResponse.describe_instances = describe_instances

    original_terminate = InstanceResponse.terminate_instances

    def terminate_instances(self):
        ids = set(self._get_param("InstanceIds", []))
        result = original_terminate(self)
        for eip in list(self.ec2_backend.addresses):
            if eip.instance is not None and eip.instance.id in ids:
                self.ec2_backend.disassociate_address(address=eip.public_ip)
        return result

    InstanceResponse.terminate_instances = terminate_instances

    # --- Elastic IP reverse DNS -----------------------------------------------------------
    def _eip(self, allocation_id):
        eips = self.ec2_backend.address_by_allocation([allocation_id])
        return eips[0]

    def modify_address_attribute(self):
        eip = _eip(self, self._get_param("AllocationId"))
        name = self._get_param("DomainName")
        if not name:
            self.ec2_backend.raise_error("MissingParameter", "The request must contain the parameter DomainName")
        eip.mailinfra_ptr_value = name.lower().rstrip(".")
        eip.mailinfra_ptr_failed = FAIL_NEXT_PTR.pop(self.current_account, None)
        _refresh_ptr(self.current_account, eip)
        if eip.mailinfra_ptr_failed:
            # AWS answers the request itself as accepted; the check fails later.
            eip.ptr_record_update = {"Value": eip.mailinfra_ptr_value, "Status": "PENDING"}
        return ActionResult({"Address": eip})

    def describe_addresses_attribute(self):
        self.error_on_dryrun()
        ids = self._get_param("AllocationIds", [])
        addresses = self.ec2_backend.describe_addresses_attribute(ids)
        for eip in addresses:
            _refresh_ptr(self.current_account, eip)
            if eip.ptr_record:
                eip.mailinfra_ptr_done = eip.ptr_record
        return ActionResult({"Addresses": addresses})

    def reset_address_attribute(self):
        eip = _eip(self, self._get_param("AllocationId"))
        eip.mailinfra_ptr_value = None
        eip.mailinfra_ptr_done = None
        eip.mailinfra_ptr_failed = None
        _refresh_ptr(self.current_account, eip)
        return ActionResult({"Address": eip})

    original_release = ElasticIPAddresses.release_address

    def release_address(self):
        allocation_id = self._get_param("AllocationId")
        if allocation_id:
            eips = self.ec2_backend.address_by_allocation([allocation_id])
            eip = eips[0]
            if eip.instance or eip.eni:
                self.ec2_backend.raise_error(
                    "InvalidIPAddress.InUse", f"Address {eip.public_ip} is in use: disassociate it first"
                )
            if getattr(eip, "mailinfra_ptr_value", None):
                self.ec2_backend.raise_error(
                    "InvalidAddress.Locked",
                    f"The address {eip.public_ip} has a reverse DNS record and is locked to your account: reset it with ResetAddressAttribute first",
                )
        return original_release(self)

    ElasticIPAddresses.modify_address_attribute = modify_address_attribute
    ElasticIPAddresses.describe_addresses_attribute = describe_addresses_attribute
    ElasticIPAddresses.reset_address_attribute = reset_address_attribute
    ElasticIPAddresses.release_address = release_address

    # --- Elastic IPs from public (documentation) space -----------------------------------
    import random

    from moto.ec2.models import elastic_ip_addresses

    def public_ip():
        return f"{random.choice(('198.51.100', '203.0.113'))}.{random.randint(1, 254)}"

    elastic_ip_addresses.random_ip = public_ip

    # --- Debian 12 image and its public SSM parameter -----------------------------------
    original_load = ami_models.AmiBackend._load_amis

    def _load_amis(self):
        original_load(self)
        self.amis[DEBIAN_AMI] = ami_models.Ami(
            self,
            ami_id=DEBIAN_AMI,
            name="debian-12-amd64-20261101-2345",
            description="Debian 12 (20261101-2345)",
            owner_id=DEBIAN_OWNER,
            public=True,
            virtualization_type="hvm",
            architecture="x86_64",
            root_device_type="ebs",
            root_device_name="/dev/xvda",
            creation_date=datetime.datetime(2026, 11, 1, 23, 45, tzinfo=datetime.timezone.utc),
        )

    ami_models.AmiBackend._load_amis = _load_amis

    original_check = ssm_models.ParameterDict._check_loading_status

    def _check_loading_status(self, key):
        original_check(self, key)
        key = str(key or "")
        if key.startswith("/aws/service/debian") and not getattr(self, "mailinfra_debian", False):
            self.mailinfra_debian = True
            for name in DEBIAN_PARAMS:
                defaultdict.__getitem__(self, name).append(
                    ssm_models.Parameter(
                        account_id=self.account_id,
                        name=name,
                        value=DEBIAN_AMI,
                        parameter_type="String",
                        description=None,
                        allowed_pattern=None,
                        keyid=None,
                        last_modified_date=datetime.datetime(2026, 11, 2, tzinfo=datetime.timezone.utc),
                        version=1,
                        data_type="aws:ec2:image",
                    )
                )

    ssm_models.ParameterDict._check_loading_status = _check_loading_status
