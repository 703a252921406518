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
- ReleaseAddress of an associated address disassociates it silently in the default VPC and
  is refused (InvalidIPAddress.InUse) in any other VPC; it is refused while the address has
  reverse DNS (InvalidAddress.Locked: "locked to your account" until the PTR is removed).
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ReleaseAddress.html
  moto released it silently in every case.
- ResetAddressAttribute removes the PTR in the background: with the ptr-delay hook the removal
  stays PENDING (the old PtrRecord in force, PtrRecordUpdate Status PENDING) for the hook's
  seconds, and the address stays locked meanwhile.
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/elastic-ip-addresses-eip.html#Using_Elastic_Addressing_Reverse_DNS
- Eventual consistency: with the hide-new hook, a new instance, security group or Elastic IP
  is unknown to other requests for a while (NotFound codes).
  https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html
- AllocateAddress gives a public address (from the documentation ranges 198.51.100.0/24 and
  203.0.113.0/24, which route nowhere), as EC2 allocates public IPv4 addresses; moto drew
  them from 127.0.0.0/8, where resolvers answer reverse lookups with `localhost` (RFC 6761).
- TerminateInstances disassociates the instances' Elastic IPs, as EC2 does when an instance
  is terminated (moto left the address associated with the terminated instance).
- Debian 12's public SSM parameters (/aws/service/debian/release/12/latest/amd64 and arm64,
  and .../bookworm/...) resolve to a Debian 12 image of that architecture that DescribeImages
  knows, owned by Debian's account 136693071363, as Debian publishes them
  (https://wiki.debian.org/Cloud/AmazonEC2Image).
- RunInstances refuses, before launching: an instance type whose architecture the image does
  not have (InvalidParameterValue "The architecture 'arm64' of the specified instance type does
  not match the architecture 'x86_64' of the specified AMI..."), a security group of another
  VPC than the subnet (InvalidParameter "Security group sg-… and subnet subnet-… belong to
  different networks."), and a type the subnet's zone does not offer (Unsupported "Your
  requested instance type (…) is not supported in your requested Availability Zone (…)"; the
  withhold-type hook decides which, and DescribeInstanceTypeOfferings agrees).
- The default VPC has an internet gateway, and its main route table sends 0.0.0.0/0 to it.
- A network interface (ENI) outlives an instance it was attached to at launch by id
  (`NetworkInterfaces[0].NetworkInterfaceId`; DeleteOnTermination is false for it, "You can
  specify true only if creating a new network interface when launching an instance"):
  TerminateInstances detaches it (status `available`) and its Elastic IP stays associated
  with it ("The attributes of a network interface follow it as it's attached or detached from
  an instance and reattached to another instance", Elastic IP addresses among them:
  https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/using-eni.html); moto left it `in-use`,
  attached to the terminated instance. RunInstances with an interface that is attached
  elsewhere is refused (`InvalidNetworkInterface.InUse`); the instance reports the interface's
  security groups as its own (moto reported none); DescribeAddresses names the instance an
  interface's address serves (`InstanceId`, moto left it empty); DeleteNetworkInterface of an
  attached interface is refused (`InvalidNetworkInterface.InUse`, "You can't delete a network
  interface that is in use": https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/delete_eni.html)
  and deleting one disassociates its Elastic IP.
  https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_InstanceNetworkInterfaceSpecification.html
"""

import datetime
import functools
import time
from collections import defaultdict

DEBIAN_OWNER = "136693071363"
DEBIAN_AMI = "ami-0d3b1a2c4e5f60712"
DEBIAN_AMI_ARM64 = "ami-0e4c2b3d5f6a70823"
# Debian's public parameters, per architecture: parameter -> image.
DEBIAN_PARAMS = {
    "/aws/service/debian/release/12/latest/amd64": DEBIAN_AMI,
    "/aws/service/debian/release/bookworm/latest/amd64": DEBIAN_AMI,
    "/aws/service/debian/release/12/latest/arm64": DEBIAN_AMI_ARM64,
    "/aws/service/debian/release/bookworm/latest/arm64": DEBIAN_AMI_ARM64,
}


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


def _removing_ptr(account, eip):
    """Whether a ResetAddressAttribute of the address is still PENDING (the ptr-delay hook)."""
    resets = PTR_RESETS.get(account, {})
    until = resets.get(eip.allocation_id)
    if until is not None and until <= time.monotonic():
        del resets[eip.allocation_id]
        eip.mailinfra_ptr_done = None
        until = None
    return until is not None


def _refresh_ptr(account, eip):
    value = getattr(eip, "mailinfra_ptr_value", None)
    if not value and _removing_ptr(account, eip):
        # The record stays in force while AWS removes it.
        eip.ptr_record = getattr(eip, "mailinfra_ptr_done", None)
        eip.ptr_record_update = {"Status": "PENDING", "Reason": "removing the reverse DNS record"}
        return
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
# Test hook state: account -> seconds a ResetAddressAttribute stays PENDING (default 0: done at
# once); account -> {allocation id: monotonic time its removal is done}.
PTR_DELAY = {}
PTR_RESETS = {}


# Test hook state (eventual consistency): account -> seconds a resource it creates stays
# invisible; account -> {id: monotonic time it becomes visible}.
HIDE_NEW = {}
HIDDEN = {}
# The code EC2 answers for an id it does not know (yet), by the id's prefix.
NOT_FOUND = {
    "i-": ("InvalidInstanceID.NotFound", "The instance ID '{}' does not exist"),
    "sg-": ("InvalidGroup.NotFound", "The security group '{}' does not exist"),
    "eipalloc-": ("InvalidAllocationID.NotFound", "The allocation ID '{}' does not exist"),
}
# Operations that name an existing resource by id: a hidden id in any parameter is not found.
NAMING_OPERATIONS = (
    "describe_instances",
    "describe_instance_attribute",
    "terminate_instances",
    "run_instances",
    "describe_addresses",
    "describe_addresses_attribute",
    "associate_address",
    "modify_address_attribute",
    "reset_address_attribute",
    "release_address",
    "describe_security_groups",
    "authorize_security_group_ingress",
    "revoke_security_group_ingress",
    "delete_security_group",
    "create_tags",
)


def hidden(account):
    """The ids an account created that are not visible yet."""
    now = time.monotonic()
    ids = HIDDEN.get(account, {})
    for gone in [i for i, until in ids.items() if until <= now]:
        del ids[gone]
    return ids


def _hide(account, ids):
    seconds = HIDE_NEW.get(account)
    if seconds:
        until = time.monotonic() + seconds
        HIDDEN.setdefault(account, {}).update({i: until for i in ids if i})


def _payload(result):
    """What an ActionResult carries (moto names the attribute differently across versions)."""
    return result.result if hasattr(result, "result") else getattr(result, "_result", None)


def _created_ids(name, result):
    payload = _payload(result)
    if name == "run_instances":
        return [i.id for i in getattr(payload, "instances", None) or []]
    if isinstance(payload, dict):
        return [payload.get("GroupId"), payload.get("AllocationId")]
    return []


def _install_hide_new():
    """Eventual consistency (https://docs.aws.amazon.com/ec2/latest/devguide/eventual-consistency.html):
    with the hide-new hook, an id RunInstances, CreateSecurityGroup or AllocateAddress just
    returned is unknown to every other request for the hook's seconds: naming it answers the
    NotFound code, listings leave it out."""
    from moto.ec2.models import EC2Backend
    from moto.ec2.responses import EC2Response

    def creating(name):
        original = getattr(EC2Response, name)

        @functools.wraps(original)
        def create(self):
            result = original(self)
            _hide(self.current_account, _created_ids(name, result))
            return result

        setattr(EC2Response, name, create)

    def naming(name):
        original = getattr(EC2Response, name)

        @functools.wraps(original)
        def named(self):
            ids = hidden(self.current_account)
            if ids:
                for values in self.querystring.values():
                    for value in values:
                        if value in ids:
                            prefix = next(p for p in NOT_FOUND if value.startswith(p))
                            code, message = NOT_FOUND[prefix]
                            self.ec2_backend.raise_error(code, message.format(value))
            return original(self)

        setattr(EC2Response, name, named)

    for name in NAMING_OPERATIONS:
        naming(name)
    for name in ("run_instances", "create_security_group", "allocate_address"):
        creating(name)

    def listing(name, visible):
        original = getattr(EC2Backend, name)

        @functools.wraps(original)
        def listed(self, *args, **kwargs):
            found = original(self, *args, **kwargs)
            ids = hidden(self.account_id)
            if not ids:
                return found
            return [x for x in (visible(x, ids) for x in found) if x is not None]

        setattr(EC2Backend, name, listed)

    def reservation(r, ids):
        kept = [i for i in r.instances if i.id not in ids]
        if not kept:
            return None
        r.instances = kept  # moto hands out copies of its reservations
        return r

    listing("describe_addresses", lambda a, ids: None if a.allocation_id in ids else a)
    listing("describe_security_groups", lambda g, ids: None if g.id in ids else g)
    listing("describe_instances", reservation)


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


# Test hook state: account -> {(instance type, zone)} the account's offerings leave out.
WITHHELD = {}


def _check_launch(response):
    """What EC2 refuses in a RunInstances before launching (moto checked none of it)."""
    from moto.ec2.models.instance_types import INSTANCE_TYPES

    backend = response.ec2_backend
    instance_type = response._get_param("InstanceType") or "m1.small"
    image = backend.amis.get(response._get_param("ImageId") or "")
    archs = (INSTANCE_TYPES.get(instance_type) or {}).get("ProcessorInfo", {}).get("SupportedArchitectures", [])
    if image is not None and archs and image.architecture not in archs:
        backend.raise_error(
            "InvalidParameterValue",
            f"The architecture '{archs[0]}' of the specified instance type does not match the architecture "
            f"'{image.architecture}' of the specified AMI. Specify an instance type and an AMI that have matching "
            "architectures, and try again. You can use 'describe-instance-types' or 'describe-images' to discover "
            "the architecture of the instance type or AMI.",
        )
    subnet_id = response._get_param("SubnetId")
    if not subnet_id:
        return
    subnet = backend.get_subnet(subnet_id)
    for group_id in response._get_param("SecurityGroupIds", []) or []:
        group = backend.get_security_group_from_id(group_id)
        if group is not None and group.vpc_id != subnet.vpc_id:
            backend.raise_error(
                "InvalidParameter", f"Security group {group_id} and subnet {subnet_id} belong to different networks."
            )
    withheld = WITHHELD.get(response.current_account, set())
    if (instance_type, subnet.availability_zone) in withheld:
        others = sorted(
            z.name
            for z in backend.describe_availability_zones()
            if (instance_type, z.name) not in withheld and z.name != subnet.availability_zone
        )
        backend.raise_error(
            "Unsupported",
            f"Your requested instance type ({instance_type}) is not supported in your requested Availability Zone "
            f"({subnet.availability_zone}). Please retry your request by not specifying an Availability Zone or "
            f"choosing {', '.join(others)}.",
        )


def _install_offerings():
    """DescribeInstanceTypeOfferings leaves out what the withhold-type hook withholds."""
    from moto.ec2.models import EC2Backend

    original = EC2Backend.describe_instance_type_offerings

    def describe_instance_type_offerings(self, location_type=None, filters=None):
        found = original(self, location_type=location_type, filters=filters)
        withheld = WITHHELD.get(self.account_id)
        if not withheld or (location_type or "region") != "availability-zone":
            return found
        return [o for o in found if (o.get("InstanceType"), o.get("Location")) not in withheld]

    EC2Backend.describe_instance_type_offerings = describe_instance_type_offerings


def _install_default_vpc_gateway():
    """A default VPC has an internet gateway and a main route table sending 0.0.0.0/0 to it
    (https://docs.aws.amazon.com/vpc/latest/userguide/default-vpc.html); moto made neither."""
    from moto.ec2.models import EC2Backend

    original = EC2Backend.create_default_vpc

    def create_default_vpc(self):
        vpc = original(self)
        igw = self.create_internet_gateway()
        self.attach_internet_gateway(igw.id, vpc.id)
        main = [t for t in self.route_tables.values() if t.vpc_id == vpc.id and t.main_association_id]
        for table in main:
            self.create_route(table.id, "0.0.0.0/0", gateway_id=igw.id)
        return vpc

    EC2Backend.create_default_vpc = create_default_vpc


def _install_launch_defaults(InstanceResponse):
    """What EC2 fills in at launch that moto does not.

    - IMDS hop limit: without `HttpPutResponseHopLimit`, an image registered with
      `ImdsSupport: v2.0` gets 2, not 1 (InstanceMetadataOptionsRequest, "Default"; moto
      always said 1).
    - A block device mapping for the image's root device without `VolumeSize` takes the size of
      the image's root snapshot (8 GiB here, as moto's default root volume); moto left it empty.
    """
    from moto.ec2.responses.amis import AmisResponse

    inner = InstanceResponse.run_instances

    def run_instances(self):
        options = self._get_param("MetadataOptions", {}) or {}
        image = self.ec2_backend.amis.get(self._get_param("ImageId"))
        root = getattr(image, "root_device_name", None)
        for mapping in self._get_param("BlockDeviceMappings", []) or []:
            ebs = mapping.get("Ebs")
            if ebs is not None and mapping.get("DeviceName") == root and ebs.get("VolumeSize") is None and not ebs.get("SnapshotId"):
                ebs["VolumeSize"] = 8
        result = inner(self)
        reservation = result.result if hasattr(result, "result") else getattr(result, "_result", None)
        for instance in getattr(reservation, "instances", None) or []:
            if options.get("HttpPutResponseHopLimit") is None and getattr(image, "imds_support", None) == "v2.0":
                instance.metadata_options.http_put_response_hop_limit = 2
        return result

    InstanceResponse.run_instances = run_instances

    # ModifyInstanceAttribute `UserData` is a blob: the query protocol carries it base64 and
    # moto's parser hands over the decoded bytes, which moto then refused as "Invalid BASE64".
    from moto.core.types import Base64EncodedString
    from moto.ec2.responses import instances as instance_responses

    parse = instance_responses.parse_user_data

    def parse_user_data(value):
        if isinstance(value, bytes):
            return Base64EncodedString.from_raw_bytes(value)
        return parse(value)

    instance_responses.parse_user_data = parse_user_data

    # RegisterImage keeps `ImdsSupport`, `Architecture` and `RootDeviceName` (moto dropped
    # them; AWS's default architecture for an EBS-backed image is i386).
    original_register = AmisResponse.register_image

    def register_image(self):
        result = original_register(self)
        payload = result.result if hasattr(result, "result") else getattr(result, "_result", {})
        ami = self.ec2_backend.amis.get((payload or {}).get("ImageId"))
        if ami is not None:
            ami.imds_support = self._get_param("ImdsSupport")
            ami.architecture = self._get_param("Architecture") or "i386"
            ami.root_device_name = self._get_param("RootDeviceName") or ami.root_device_name
        return result

    AmisResponse.register_image = register_image


def _install_network_interfaces(InstanceResponse):
    """Network interfaces that outlive instances (see the module's docstring)."""
    from moto.ec2.models.elastic_ip_addresses import ElasticAddress
    from moto.ec2.models.elastic_network_interfaces import NetworkInterfaceBackend
    from moto.ec2.responses.elastic_network_interfaces import ElasticNetworkInterfaces

    inner_run = InstanceResponse.run_instances

    def existing(self):
        """The existing interfaces a RunInstances names."""
        specs = self._get_param("NetworkInterfaces", []) or []
        return [self.ec2_backend.get_network_interface(s["NetworkInterfaceId"]) for s in specs if s.get("NetworkInterfaceId")]

    def run_instances(self):
        named = existing(self)
        if named and (self._get_param("SubnetId") or self._get_param("SecurityGroupIds") or self._get_param("SecurityGroupId")):
            self.ec2_backend.raise_error(
                "InvalidParameterCombination",
                "Network interfaces and an instance-level security groups may not be specified on the same request",
            )
        token = self._get_param("ClientToken")
        replay = token and token in (getattr(self.ec2_backend, "mailinfra_tokens", None) or {})
        for eni in [] if replay else named:
            if eni.instance is not None and getattr(eni.instance._state, "name", "") != "terminated":
                self.ec2_backend.raise_error("InvalidNetworkInterface.InUse", f"Interface: [{eni.id}] in use.")
        result = inner_run(self)
        reservation = result.result if hasattr(result, "result") else getattr(result, "_result", None)
        specs = self._get_param("NetworkInterfaces", []) or []
        for instance in getattr(reservation, "instances", None) or []:
            primary = instance.nics.get(0)
            if primary is not None and any(eni is primary for eni in named):
                # The instance is in its primary interface's groups.
                instance.security_groups = list(primary._group_set)
            for index, nic in instance.nics.items():
                if any(eni is nic for eni in named):
                    continue
                # An interface the launch creates goes with the instance unless the request
                # says otherwise (moto kept it: its default was false).
                spec = next((x for x in specs if int(x.get("DeviceIndex", -1)) == index), {})
                nic.delete_on_termination = str(spec.get("DeleteOnTermination", "true")).lower() == "true"
        return result

    InstanceResponse.run_instances = run_instances

    # TerminateInstances: interfaces not deleted with the instance are detached, and keep
    # their Elastic IP.
    from moto.ec2.models.instances import Instance

    original_terminate = Instance.terminate

    def terminate(self):
        kept = [n for n in self.nics.values() if not n.delete_on_termination]
        state = original_terminate(self)
        for nic in kept:
            nic.instance = None
            nic.attachment_id = None
            nic.attach_time = None
            nic.status = "available"
        return state

    Instance.terminate = terminate

    # DescribeAddresses: an interface's address serves the instance the interface is on.
    def instance_id(self):
        if self.instance is not None:
            return self.instance.id
        eni = self.eni
        return eni.instance.id if eni is not None and eni.instance is not None else ""

    ElasticAddress.instance_id = property(instance_id)

    original_delete = NetworkInterfaceBackend.delete_network_interface

    def delete_network_interface(self, eni_id):
        eni = self.enis.get(eni_id)
        if eni is not None:
            for eip in list(self.addresses):
                if eip.eni is eni:
                    self.disassociate_address(association_id=eip.association_id)
        return original_delete(self, eni_id)

    NetworkInterfaceBackend.delete_network_interface = delete_network_interface

    original_delete_request = ElasticNetworkInterfaces.delete_network_interface

    def delete_network_interface_request(self):
        eni_id = self._get_param("NetworkInterfaceId")
        eni = self.ec2_backend.enis.get(eni_id)
        if eni is not None and eni.instance is not None:
            self.ec2_backend.raise_error(
                "InvalidNetworkInterface.InUse", f"The network interface {eni_id} is currently in use."
            )
        return original_delete_request(self)

    ElasticNetworkInterfaces.delete_network_interface = delete_network_interface_request


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
            _check_launch(self)
            result = original_run(self)
            # The reservation is what the response serializes.
            reservation = result.result if hasattr(result, "result") else None
            if reservation is None:
                reservation = getattr(result, "_result", None)
            if reservation is not None:
                seen[token] = (asked, reservation)
            _arm_launch_failure(self.current_account, reservation)
            return result
        _check_launch(self)
        result = original_run(self)
        reservation = result.result if hasattr(result, "result") else getattr(result, "_result", None)
        _arm_launch_failure(self.current_account, reservation)
        return result

    InstanceResponse.run_instances = run_instances
    _install_launch_defaults(InstanceResponse)
    _install_network_interfaces(InstanceResponse)

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
                if eip.eni is not None and not eip.eni.delete_on_termination:
                    # An interface that outlives the instance keeps its address.
                    eip.instance = None
                else:
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
        had = getattr(eip, "mailinfra_ptr_value", None) or getattr(eip, "mailinfra_ptr_done", None)
        eip.mailinfra_ptr_value = None
        eip.mailinfra_ptr_failed = None
        delay = PTR_DELAY.get(self.current_account, 0)
        if had and delay:
            # AWS removes the record in the background: PENDING, the address locked meanwhile.
            PTR_RESETS.setdefault(self.current_account, {})[eip.allocation_id] = time.monotonic() + delay
        else:
            eip.mailinfra_ptr_done = None
        _refresh_ptr(self.current_account, eip)
        return ActionResult({"Address": eip})

    original_release = ElasticIPAddresses.release_address

    def release_address(self):
        allocation_id = self._get_param("AllocationId")
        if allocation_id:
            eips = self.ec2_backend.address_by_allocation([allocation_id])
            eip = eips[0]
            if eip.instance or eip.eni:
                vpc_id = getattr(eip.instance, "vpc_id", None) if eip.instance else getattr(eip.eni, "vpc_id", None)
                vpc = self.ec2_backend.vpcs.get(vpc_id) if vpc_id else None
                if not getattr(vpc, "is_default", False):
                    self.ec2_backend.raise_error(
                        "InvalidIPAddress.InUse", f"Address {eip.public_ip} is in use: disassociate it first"
                    )
            if getattr(eip, "mailinfra_ptr_value", None) or _removing_ptr(self.current_account, eip):
                self.ec2_backend.raise_error(
                    "InvalidAddress.Locked",
                    f"The address {eip.public_ip} has a reverse DNS record and is locked to your account: reset it with ResetAddressAttribute first",
                )
            if eip.instance or eip.eni:
                # In the default VPC, releasing disassociates silently.
                self.ec2_backend.disassociate_address(association_id=eip.association_id)
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
        for ami_id, arch, name in (
            (DEBIAN_AMI, "x86_64", "amd64"),
            (DEBIAN_AMI_ARM64, "arm64", "arm64"),
        ):
            self.amis[ami_id] = ami_models.Ami(
                self,
                ami_id=ami_id,
                name=f"debian-12-{name}-20261101-2345",
                description="Debian 12 (20261101-2345)",
                owner_id=DEBIAN_OWNER,
                public=True,
                virtualization_type="hvm",
                architecture=arch,
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
            for name, image in DEBIAN_PARAMS.items():
                defaultdict.__getitem__(self, name).append(
                    ssm_models.Parameter(
                        account_id=self.account_id,
                        name=name,
                        value=image,
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

    _install_offerings()
    _install_default_vpc_gateway()
    # Installed last: it wraps the handlers patched above.
    _install_hide_new()


def _seconds(query):
    return float(query["seconds"][0])


def _hook_hide_new(query):
    HIDE_NEW[query["account"][0]] = _seconds(query)


def _hook_ptr_delay(query):
    """How long the account's next reverse DNS removals stay PENDING; 0 also ends those pending."""
    account = query["account"][0]
    PTR_DELAY[account] = _seconds(query)
    if not PTR_DELAY[account]:
        for allocation in PTR_RESETS.get(account, {}):
            PTR_RESETS[account][allocation] = 0


def _hook_withhold_type(query):
    """The account's offerings leave out instance type `type` in zone `zone`, and launches of it
    there are refused (as in an AZ that does not offer the type)."""
    WITHHELD.setdefault(query["account"][0], set()).add((query["type"][0], query["zone"][0]))


# Test hooks front.py serves at /_mailinfra/ec2/<name>, each given the query.
HOOKS = {
    "hide-new": _hook_hide_new,
    "ptr-delay": _hook_ptr_delay,
    "withhold-type": _hook_withhold_type,
}
