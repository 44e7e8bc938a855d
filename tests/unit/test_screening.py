from __future__ import annotations

import pytest

from clef_pro.domain.screening import find_secret_shape


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        (
            "recipient age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p",
            "age recipient",
        ),
        ("AGE-SECRET-KEY-1QQQQQQ", "age identity"),
        ("fingerprint 85D77543B3D624B63CEA9E6DBC17301B491B3F21", "PGP fingerprint"),
        ("fp 85D7 7543 B3D6 24B6 3CEA 9E6D BC17 301B 491B 3F21", "PGP fingerprint"),
        ("key 0x3CEA9E6DBC17301B", "PGP key id"),
        ("arn:aws:kms:us-east-1:123456789012:key/1234abcd", "AWS KMS key ARN"),
        ("arn:aws-us-gov:kms:us-gov-west-1:123456789012:alias/x", "AWS KMS key ARN"),
        ("projects/acme/locations/global/keyRings/ring/cryptoKeys/sops", "GCP KMS key name"),
        ("https://acme-vault.vault.azure.net/keys/sops/abc", "Azure Key Vault key URL"),
        ("rotation overdue in secrets/api-keys/production.enc.yaml", "encrypted file path"),
        ("see database.sops.json", "encrypted file path"),
        ("config in .sops.yaml is stale", "encrypted file path"),
        ("file /repo/secrets/prod is old", "absolute file path"),
        ("file C:\\repo\\secrets", "absolute file path"),
        ("file ~/secrets", "absolute file path"),
        ("DATABASE_PASSWORD=hunter2 leaked", "environment variable"),
        ("-----BEGIN PGP PUBLIC KEY BLOCK-----", "key block"),
    ],
)
def test_secret_shaped_text_is_found_and_named_by_kind(text: str, kind: str) -> None:
    found = find_secret_shape(text)
    assert found is not None
    assert kind in found


@pytest.mark.parametrize(
    "text",
    [
        "4 keys, 3 recipients, rotated 12d ago",
        "2 keys missing in oauth/production",
        "Rotation overdue for api-keys/production (94 days)",
        "Development has an additional recipient",
        "2 keys in [dev] missing from prod",
        "1 key fails schema validation",
        "see https://gitlab.example.com/acme/payments/-/pipelines/4411 for the run",
        "No drift",
        "",
    ],
)
def test_the_clis_ordinary_descriptions_pass(text: str) -> None:
    assert find_secret_shape(text) is None


def test_the_finding_never_contains_the_matched_value() -> None:
    secret = "age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p"
    found = find_secret_shape(f"x {secret}")
    assert found is not None
    assert secret not in found
