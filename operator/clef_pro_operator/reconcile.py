"""Bringing one Integration in line: its Secret, its config in the service, its status.

Every path that can change an Integration's effective config (the Integration
itself, a Policy or NotificationChannel it selects, the periodic refresh) ends
in :func:`sync_integration`, under a per-Integration lock, so two of them can
never interleave their writes. It is level-based: it computes what should be
from what is, so running it again changes nothing that is already right.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from clef_pro.domain.config import IntegrationSource
from clef_pro.domain.connect import telemetry_headers
from clef_pro.domain.durations import parse_duration
from clef_pro_operator import conditions
from clef_pro_operator.keys import plan_keys
from clef_pro_operator.kube import Kube, Owner
from clef_pro_operator.resolve import (
    SECRET_REFERENCES,
    ChannelSecrets,
    Named,
    ResolutionError,
    integration_id,
    resolve,
    secret_name,
    selected,
)
from clef_pro_operator.resources import API_VERSION, IntegrationSpec, NotificationChannelSpec
from clef_pro_operator.service import IdTaken, ServiceClient, ServiceRejected, ServiceUnavailable
from clef_pro_operator.settings import OperatorSettings

log = logging.getLogger("clef_pro_operator")


@dataclass
class Runtime:
    """Everything the handlers share, kept in Kopf's memo."""

    settings: OperatorSettings
    kube: Kube
    service: ServiceClient
    locks: defaultdict[str, asyncio.Lock] = field(default_factory=lambda: defaultdict(asyncio.Lock))
    #: Digest of the config last accepted by the service, per Integration uid.
    synced: dict[str, str] = field(default_factory=dict)
    last_heartbeat: float | None = None

    async def aclose(self) -> None:
        await self.service.aclose()
        await self.kube.aclose()


@dataclass(frozen=True, slots=True)
class Outcome:
    ready: bool
    reason: str
    message: str
    #: A failure worth a Kubernetes Event (and a retry), not a steady state.
    transient: bool = False
    #: The integration id belongs to another source: worth an Event, and a
    #: ``Conflict`` condition, but no fast retry (the periodic sync tries again).
    conflict: bool = False


def _digest(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()


async def _channel_secrets(
    kube: Kube, namespace: str, channels: Sequence[Named]
) -> dict[str, ChannelSecrets]:
    """Every Secret value the selected channels refer to (URLs, keys)."""
    found: dict[str, ChannelSecrets] = {}
    for channel in channels:
        spec: NotificationChannelSpec = channel.spec
        target = getattr(spec, spec.type, None)
        references = SECRET_REFERENCES.get(spec.type)
        if target is None or references is None:
            continue
        values: dict[str, str] = {}
        for name, attribute in references.items():
            reference = getattr(target, attribute)
            value = await kube.read_secret_key(namespace, reference.name, reference.key)
            if value is None:
                raise ResolutionError(
                    "ChannelSecretMissing",
                    f"NotificationChannel {channel.name!r}: a referenced Secret key is missing",
                )
            values[name] = value
        found[channel.name] = ChannelSecrets(values)
    return found


async def sync_integration(
    runtime: Runtime,
    body: Mapping[str, Any],
    policies: Sequence[Named],
    channels: Sequence[Named],
    *,
    refresh_status: bool = False,
) -> Outcome:
    metadata = body["metadata"]
    namespace, name, uid = metadata["namespace"], metadata["name"], metadata["uid"]
    async with runtime.locks[uid]:
        spec = IntegrationSpec.model_validate(body.get("spec") or {})
        the_id = integration_id(namespace, name, spec)
        the_secret = secret_name(name, spec)
        now = datetime.now(UTC)
        status: dict[str, Any] = {
            "integrationId": the_id,
            "secretName": the_secret,
            "observedGeneration": metadata.get("generation"),
        }
        try:
            stored = await runtime.kube.get_secret(namespace, the_secret)
            plan = plan_keys(
                spec.api_keys,
                stored.data if stored else {},
                stored.annotations if stored else {},
                now=now,
                grace=parse_duration(spec.key_rotation.grace_period),
            )
            if plan.changed or stored is None:
                await runtime.kube.apply_secret(
                    namespace,
                    the_secret,
                    plan.data,
                    plan.annotations,
                    Owner(API_VERSION, "Integration", name, uid),
                )
                for key_name in plan.rotated:
                    log.info("rotated API key %r of %s/%s", key_name, namespace, name)

            selected_channels = selected(spec.notification_channel_selector, channels)
            resolution = resolve(
                spec,
                policies,
                channels,
                plan.valid_hashes,
                await _channel_secrets(runtime.kube, namespace, selected_channels),
                source=IntegrationSource(namespace=namespace, name=name, uid=uid),
            )
            digest = _digest(resolution.config.document())
            if runtime.synced.get(uid) != digest:
                await runtime.service.put_config(the_id, resolution.config)
                runtime.synced[uid] = digest
            status["policies"] = len(resolution.config.policies)
            status["notificationChannels"] = len(resolution.config.channels)
            outcome = _readiness(spec, resolution.policies, resolution.channels)
            if refresh_status:
                status.update(await _service_status(runtime, the_id, the_secret, spec))
        except ResolutionError as error:
            outcome = Outcome(False, error.reason, error.message)
        except ServiceUnavailable as error:
            outcome = Outcome(False, "ServiceUnreachable", str(error), transient=True)
        except IdTaken as error:
            # Nothing of the other source's integration (keys, status) is shown here.
            runtime.synced.pop(uid, None)
            outcome = Outcome(False, "Conflict", str(error), conflict=True)
        except ServiceRejected as error:
            outcome = Outcome(False, "ServiceRejected", str(error), transient=True)

        current = (body.get("status") or {}).get("conditions") or []
        status["conditions"] = conditions.set_condition(
            current,
            type_=conditions.READY,
            status=outcome.ready,
            reason=outcome.reason,
            message=outcome.message,
            generation=metadata.get("generation"),
            now=now,
        )
        status["conditions"] = _conflict_condition(
            status["conditions"], outcome, metadata.get("generation"), now
        )
        if _changed(body.get("status") or {}, status):
            await runtime.kube.patch_status("Integration", namespace, name, status)
        return outcome


def _conflict_condition(
    current: list[dict[str, Any]], outcome: Outcome, generation: int | None, now: datetime
) -> list[dict[str, Any]]:
    """``Conflict`` is True while the id is taken; once synced it turns False
    (and is only ever added by a conflict, so the usual status stays short)."""
    had = any(c.get("type") == conditions.CONFLICT for c in current)
    if outcome.conflict:
        return conditions.set_condition(
            current,
            type_=conditions.CONFLICT,
            status=True,
            reason="IntegrationIdTaken",
            message=outcome.message,
            generation=generation,
            now=now,
        )
    if had and outcome.ready:
        return conditions.set_condition(
            current,
            type_=conditions.CONFLICT,
            status=False,
            reason="IntegrationIdOwned",
            message="this Integration owns its integration id",
            generation=generation,
            now=now,
        )
    return current


def _readiness(spec: IntegrationSpec, policies: Sequence[str], channels: Sequence[str]) -> Outcome:
    if spec.policy_selector is not None and not policies:
        return Outcome(
            False,
            "PolicySelectorMatchesNothing",
            "API keys work, but policySelector matches no Policy in this namespace",
        )
    if spec.notification_channel_selector is not None and not channels:
        return Outcome(
            False,
            "ChannelSelectorMatchesNothing",
            "API keys work, but notificationChannelSelector matches no NotificationChannel",
        )
    return Outcome(
        True,
        "Synced",
        f"{len(policies)} Policies and {len(channels)} NotificationChannels in effect",
    )


def key_hint(secret: str, spec: IntegrationSpec) -> str:
    """Where the key of the header line is: never the key itself in a status."""
    entry = spec.api_keys[0].name if spec.api_keys else "<key name>"
    return f"<the {entry!r} entry of Secret {secret}>"


async def _service_status(
    runtime: Runtime, the_id: str, the_secret: str, spec: IntegrationSpec
) -> dict[str, Any]:
    summary = await runtime.service.status(the_id)
    if summary is None:
        return {}
    counts = summary.get("openAlerts") or {}
    status: dict[str, Any] = {}
    if summary.get("telemetryUrl"):
        status["connection"] = {
            "telemetryUrl": summary["telemetryUrl"],
            "telemetryHeaders": telemetry_headers(key_hint(the_secret, spec)),
            "apiUrl": summary.get("apiUrl", ""),
        }
    if summary.get("lastCommitSha"):
        # Absent until the first report: the schema wants a date-time, not "".
        status["lastCommit"] = summary["lastCommitSha"][:12]
        status["lastReportTime"] = _kubernetes_time(summary["lastReportTime"])
    return {
        **status,
        "openAlerts": {
            "critical": counts.get("critical", 0),
            "warning": counts.get("warning", 0),
            "info": counts.get("info", 0),
            "total": sum(counts.get(s, 0) for s in ("critical", "warning", "info")),
        },
    }


def _kubernetes_time(iso: str) -> str:
    """The service's ISO 8601 time as Kubernetes writes times (RFC 3339, seconds, Z)."""
    return conditions.timestamp(datetime.fromisoformat(iso).astimezone(UTC))


def _changed(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    return any(current.get(key) != value for key, value in wanted.items())


async def revoke_integration(runtime: Runtime, body: Mapping[str, Any]) -> None:
    """Deleting an Integration: its keys stop working in the service at once,
    then its Secret goes (the ownerReference would also collect it). Only an
    integration this resource owns is revoked: deleting one whose id was taken
    (``Conflict``) leaves the owner's integration alone."""
    metadata = body["metadata"]
    spec = IntegrationSpec.model_validate(body.get("spec") or {})
    namespace, name, uid = metadata["namespace"], metadata["name"], metadata["uid"]
    async with runtime.locks[uid]:
        the_id = integration_id(namespace, name, spec)
        source = IntegrationSource(namespace=namespace, name=name, uid=uid)
        if not await runtime.service.delete(the_id, source):
            log.info("%s/%s did not own integration %s: nothing revoked", namespace, name, the_id)
        await runtime.kube.delete_secret(metadata["namespace"], secret_name(metadata["name"], spec))
        runtime.synced.pop(metadata["uid"], None)
    runtime.locks.pop(metadata["uid"], None)
