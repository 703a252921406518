"""mailinfra's extension of the moto AWS emulator.

Importing this package changes nothing; `install()` applies every patch. Each patch follows
the AWS API reference for the behaviour it adds or corrects; emulator/README.md lists them.
"""


def install() -> None:
    from . import accounts, ec2, iam, kms, route53

    accounts.install()
    route53.install()
    ec2.install()
    iam.install()
    kms.install()
