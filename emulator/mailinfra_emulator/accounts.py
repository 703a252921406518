"""Account isolation by access key.

moto picks the account from the `x-moto-account-id` header or from IAM access keys it created
itself. The mailinfra binary under test sends neither, so an access key id of the form
`AKIA` + 12 digits + 4 characters (20 characters, like a real one) selects the account named
by its digits: `AKIA111122223333TEST` -> account 111122223333. Any other key keeps moto's
default behaviour. Tests give each case its own account and so run in parallel on one server.
"""

import re

KEY = re.compile(r"^AKIA(\d{12})[A-Z0-9]{4}$")


def account_for_key(access_key: str):
    m = KEY.match(access_key or "")
    return m.group(1) if m else None


def install() -> None:
    import moto.iam.models as iam_models

    original = iam_models.get_account_id_from

    def get_account_id_from(access_key: str) -> str:
        return account_for_key(access_key) or original(access_key)

    iam_models.get_account_id_from = get_account_id_from
