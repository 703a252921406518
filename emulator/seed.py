"""Creates hosted zones (and optional records) in the emulator, as a person would have before
running mailinfra: `python emulator/seed.py URL ZONE [ZONE...] [--txt NAME=VALUE ...]`.
Uses the credentials in the environment (their access key selects the account)."""

import argparse

import boto3


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("endpoint")
    p.add_argument("zones", nargs="+")
    p.add_argument("--txt", action="append", default=[], help="NAME=VALUE: a TXT record to create")
    a = p.parse_args()
    r53 = boto3.client("route53", endpoint_url=a.endpoint, region_name="us-east-1")
    ids = {}
    for name in a.zones:
        existing = [z for z in r53.list_hosted_zones()["HostedZones"] if z["Name"] == name + "."]
        ids[name] = existing[0]["Id"] if existing else r53.create_hosted_zone(Name=name, CallerReference=name)["HostedZone"]["Id"]
    for item in a.txt:
        name, value = item.split("=", 1)
        zone = max((z for z in ids if name == z or name.endswith("." + z)), key=len)
        # CREATE, so a second run leaves what is there (mailinfra's SPF included) alone.
        try:
            r53.change_resource_record_sets(
                HostedZoneId=ids[zone],
                ChangeBatch={"Changes": [{"Action": "CREATE", "ResourceRecordSet": {
                    "Name": name, "Type": "TXT", "TTL": 300, "ResourceRecords": [{"Value": f'"{value}"'}]}}]},
            )
        except r53.exceptions.InvalidChangeBatch:
            pass
    for name, zid in ids.items():
        print(f"{name} {zid}")


if __name__ == "__main__":
    main()
