"""Route 53 change batches as the API reference describes them.

ChangeResourceRecordSets (https://docs.aws.amazon.com/Route53/latest/APIReference/API_ChangeResourceRecordSets.html):
- the batch is validated as a whole and applied atomically: one failing change fails all,
  with `InvalidChangeBatch` listing every problem;
- CREATE of a record set that exists fails ("Tried to create resource record set
  [name='x.', type='TXT'] but it already exists"), whatever its values (moto only refused
  an identical repeat and otherwise stored a second set);
- DELETE must match the current set exactly (TTL and every value), else it fails
  ("... but the values provided do not match the current values"; or "... but it was not
  found");
- changes apply in order, so DELETE then CREATE of one set in one batch replaces it;
- a TXT character-string over 255 characters fails (`CharacterStringTooLong`);
- names are case-insensitive and stored in lower case; a name outside the zone fails;
- each accepted batch gets its own change id, which GetChange reports; an unknown id is
  `NoSuchChange` (https://docs.aws.amazon.com/Route53/latest/APIReference/API_GetChange.html).
  A change is PENDING until it reaches all name servers, then INSYNC. The emulator has no
  name servers, so by default it is INSYNC at once; the test hook
  POST /_mailinfra/route53/insync-after?account=ID&seconds=N makes that account's changes
  PENDING for N seconds, as on AWS.
"""

import random
import string
import threading
import time

from moto.core.responses import ActionResult
from moto.core.utils import utcnow
from moto.route53 import models, responses
from moto.route53.exceptions import Route53ClientError

_changes: dict = {}
_lock = threading.Lock()
# account -> seconds a change stays PENDING
INSYNC_AFTER: dict = {}


class InvalidChangeBatch(Route53ClientError):
    def __init__(self, messages):
        super().__init__("InvalidChangeBatch", "; ".join(messages))
        self.messages = messages


class NoSuchChange(Route53ClientError):
    def __init__(self, change_id):
        super().__init__("NoSuchChange", f"A change with the specified change ID does not exist: {change_id}")


def _fqdn(name: str) -> str:
    name = name.lower()
    return name if name.endswith(".") else name + "."


def _strings(value: str):
    """The character-strings of a TXT value, with escapes resolved."""
    out, i, n = [], 0, len(value)
    while i < n:
        if value[i].isspace():
            i += 1
            continue
        s = []
        if value[i] == '"':
            i += 1
            while i < n and value[i] != '"':
                if value[i] == "\\" and i + 1 < n:
                    # Route 53 escapes are three octal digits (\052 is "*"), not RFC 1035's
                    # decimal: Route 53 Developer Guide, "DNS domain name format".
                    digits = value[i + 1 : i + 4]
                    if len(digits) == 3 and all(c in "01234567" for c in digits):
                        s.append(chr(int(digits, 8)))
                        i += 4
                        continue
                    i += 1
                s.append(value[i])
                i += 1
            i += 1
        else:
            while i < n and not value[i].isspace():
                s.append(value[i])
                i += 1
        out.append("".join(s))
    return out


def _values(rrset: dict):
    return [r["Value"] if isinstance(r, dict) else r for r in rrset.get("ResourceRecords") or []]


def change_resource_record_sets(self, zoneid, change_list):
    zone = self.get_hosted_zone(zoneid)
    zone_name = _fqdn(zone.name)
    work = {(r.name.lower(), r.type, r.set_identifier): r for r in zone.rrsets}
    order = list(work.keys())
    errors = []
    for change in change_list:
        action = change["Action"]
        rs = change["ResourceRecordSet"]
        name = _fqdn(rs["Name"])
        rtype = rs["Type"]
        key = (name, rtype, rs.get("SetIdentifier"))
        values = _values(rs)
        label = f"[name='{name}', type='{rtype}'"
        label += f", set-identifier='{key[2]}']" if key[2] else "]"
        if not (name == zone_name or name.endswith("." + zone_name)):
            errors.append(f"RRSet with DNS name {name} is not permitted in zone {zone_name}")
            continue
        if rtype in ("TXT", "SPF") and action != "DELETE":
            for v in values:
                if any(len(s) > 255 for s in _strings(v)):
                    errors.append(
                        f"Invalid Resource Record: 'FATAL problem: CharacterStringTooLong (Value is too long) encountered with '{v[:60]}...''"
                    )
        if action == "CREATE":
            if key in work:
                errors.append(f"Tried to create resource record set {label} but it already exists")
                continue
        elif action == "DELETE":
            current = work.get(key)
            if current is None:
                errors.append(f"Tried to delete resource record set {label} but it was not found")
                continue
            same = (
                (current.ttl is None or str(current.ttl) == str(rs.get("TTL")))
                and sorted(current.records or []) == sorted(values)
            )
            if not same:
                errors.append(
                    f"Tried to delete resource record set {label} but the values provided do not match the current values"
                )
                continue
            del work[key]
            continue
        elif action != "UPSERT":
            errors.append(f"Invalid action {action}")
            continue
        stored = dict(rs)
        stored["Name"] = name
        stored["ResourceRecords"] = values
        work[key] = models.RecordSet(stored)
        if key not in order:
            order.append(key)
    if errors:
        raise InvalidChangeBatch(errors)
    zone.rrsets = [work[k] for k in order if k in work]


def change_resource_record_sets_response(self):
    zoneid = self._get_param("HostedZoneId")
    change_list = self._get_param("ChangeBatch.Changes")
    count = sum(
        len(c["ResourceRecordSet"].get("ResourceRecords") or []) * (2 if c["Action"] == "UPSERT" else 1)
        for c in change_list
    )
    if count > 1000:
        raise InvalidChangeBatch(["Number of records limit of 1000 exceeded."])
    self.backend.change_resource_record_sets(zoneid, change_list)
    change_id = "C" + "".join(random.choices(string.ascii_uppercase + string.digits, k=13))
    submitted = utcnow()
    ready = time.time() + INSYNC_AFTER.get(self.current_account, 0)
    with _lock:
        _changes[change_id] = (submitted, ready)
    status = "INSYNC" if time.time() >= ready else "PENDING"
    return ActionResult({"ChangeInfo": {"Id": f"/change/{change_id}", "Status": status, "SubmittedAt": submitted}})


def get_change_response(self):
    change_id = self._get_param("Id").split("/")[-1]
    with _lock:
        found = _changes.get(change_id)
    if found is None:
        raise NoSuchChange(change_id)
    submitted, ready = found
    status = "INSYNC" if time.time() >= ready else "PENDING"
    return ActionResult({"ChangeInfo": {"Id": f"/change/{change_id}", "Status": status, "SubmittedAt": submitted}})


def install() -> None:
    models.Route53Backend.change_resource_record_sets = change_resource_record_sets
    responses.Route53.change_resource_record_sets = change_resource_record_sets_response
    responses.Route53.get_change = get_change_response
