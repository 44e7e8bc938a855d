"""API keys kept in an Integration's Secret, and their rotation. Pure.

The Secret is the key store: each named key is one entry of its ``data``; what
the operator must remember between runs (which rotation request a key
answers, which rotated-out keys still work until when) is in the Secret's
annotations. So a restarted operator reads everything it needs from the
cluster and mints nothing that already exists.

Only hashes leave the Secret: :attr:`KeyPlan.valid_hashes` is what the service
is told.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from clef_pro.domain import apikeys
from clef_pro.domain.config import ApiKeyHash
from clef_pro_operator.resources import ApiKeySpec

ANNOTATION_PREFIX = "pro.clef.sh/"
RETIRING_ANNOTATION = ANNOTATION_PREFIX + "retiring-keys"
ROTATION_ANNOTATION_PREFIX = ANNOTATION_PREFIX + "rotation."


@dataclass(frozen=True, slots=True)
class RetiringKey:
    """A rotated-out key that keeps working until ``expires_at``."""

    name: str
    sha256: str
    expires_at: datetime

    def to_json(self) -> dict[str, str]:
        return {"name": self.name, "sha256": self.sha256, "expiresAt": self.expires_at.isoformat()}


@dataclass(frozen=True, slots=True)
class KeyPlan:
    """What the Secret should hold, and which key hashes the service must accept."""

    data: dict[str, str]
    annotations: dict[str, str]
    valid_hashes: list[ApiKeyHash]
    changed: bool
    minted: list[str] = field(default_factory=list)
    rotated: list[str] = field(default_factory=list)
    #: The next moment a retiring key expires, when the plan must be made again.
    next_expiry: datetime | None = None


def decode_secret_data(data: Mapping[str, str] | None) -> dict[str, str]:
    return {name: base64.b64decode(value).decode() for name, value in (data or {}).items()}


def encode_secret_data(data: Mapping[str, str]) -> dict[str, str]:
    return {name: base64.b64encode(value.encode()).decode() for name, value in data.items()}


def read_retiring(annotations: Mapping[str, str]) -> list[RetiringKey]:
    raw = annotations.get(RETIRING_ANNOTATION)
    if not raw:
        return []
    try:
        return [
            RetiringKey(item["name"], item["sha256"], datetime.fromisoformat(item["expiresAt"]))
            for item in json.loads(raw)
        ]
    except (ValueError, KeyError, TypeError):
        return []  # a hand-edited annotation: forget the retiring keys rather than crash


def plan_keys(
    wanted: Sequence[ApiKeySpec],
    current_data: Mapping[str, str],
    current_annotations: Mapping[str, str],
    *,
    now: datetime,
    grace: timedelta,
    mint: Callable[[], str] = apikeys.generate_api_key,
) -> KeyPlan:
    """Decide the Secret's keys from the Integration's ``apiKeys``.

    - a wanted key that is missing (or not a Clef Pro key) is minted;
    - a key whose ``rotate`` value changed is replaced, the old one retiring
      for ``grace``;
    - a key no longer wanted is revoked at once;
    - retiring keys past their expiry are dropped.
    """
    data: dict[str, str] = {}
    annotations = {
        key: value
        for key, value in current_annotations.items()
        if key.startswith(ANNOTATION_PREFIX)
    }
    retiring = [key for key in read_retiring(current_annotations) if key.expires_at > now]
    minted: list[str] = []
    rotated: list[str] = []

    for spec in wanted:
        token_key = ROTATION_ANNOTATION_PREFIX + spec.name
        existing = current_data.get(spec.name)
        if existing is None or not apikeys.is_well_formed(existing):
            data[spec.name] = mint()
            minted.append(spec.name)
        elif annotations.get(token_key, "") != spec.rotate:
            retiring.append(RetiringKey(spec.name, apikeys.sha256_hex(existing), now + grace))
            data[spec.name] = mint()
            rotated.append(spec.name)
        else:
            data[spec.name] = existing
        annotations[token_key] = spec.rotate

    names = {spec.name for spec in wanted}
    for key in list(annotations):
        if (
            key.startswith(ROTATION_ANNOTATION_PREFIX)
            and key[len(ROTATION_ANNOTATION_PREFIX) :] not in names
        ):
            del annotations[key]
    retiring = [key for key in retiring if key.name in names]
    if retiring:
        annotations[RETIRING_ANNOTATION] = json.dumps(
            [key.to_json() for key in retiring], separators=(",", ":")
        )
    else:
        annotations.pop(RETIRING_ANNOTATION, None)

    valid = [ApiKeyHash(name=name, sha256=apikeys.sha256_hex(key)) for name, key in data.items()]
    valid += [
        ApiKeyHash(name=f"{key.name[:48]}-retiring-{index}", sha256=key.sha256)
        for index, key in enumerate(retiring)
    ]
    changed = data != dict(current_data) or annotations != {
        k: v for k, v in current_annotations.items() if k.startswith(ANNOTATION_PREFIX)
    }
    return KeyPlan(
        data=data,
        annotations=annotations,
        valid_hashes=valid,
        changed=changed,
        minted=minted,
        rotated=rotated,
        next_expiry=min((key.expires_at for key in retiring), default=None),
    )
