"""Kopf wiring, and nothing else: every handler hands its work to a plain function.

- Integrations: create/update/resume sync at once; a daemon per Integration
  refreshes its status from the service and revokes rotated-out keys when
  their grace period ends; deletion revokes its keys through a finalizer, so it
  happens even if the operator was down when the Integration was deleted.
- Policies and NotificationChannels: any event re-syncs the Integrations of
  their namespace (found through Kopf indexes, no API calls) and refreshes
  their own status. They carry no finalizer: deleting one needs no cleanup.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import kopf

from clef_pro_operator import conditions
from clef_pro_operator.kube import Kube
from clef_pro_operator.reconcile import Runtime, revoke_integration, sync_integration
from clef_pro_operator.resolve import Named
from clef_pro_operator.resources import (
    GROUP,
    VERSION,
    IntegrationSpec,
    LabelSelector,
    NotificationChannelSpec,
    PolicySpec,
)
from clef_pro_operator.service import ServiceClient, ServiceUnavailable
from clef_pro_operator.settings import OperatorSettings

log = logging.getLogger("clef_pro_operator")

INTEGRATIONS = (GROUP, VERSION, "integrations")
POLICIES = (GROUP, VERSION, "policies")
CHANNELS = (GROUP, VERSION, "notificationchannels")
ANNOTATION_PREFIX = GROUP


# ------------------------------------------------------------------ lifecycle


@kopf.on.startup()
async def startup(settings: kopf.OperatorSettings, memo: kopf.Memo, **_: Any) -> None:
    # Kopf keeps its bookkeeping in annotations of our own prefix: the status
    # belongs to our schema, which has no room for Kopf's fields.
    settings.persistence.finalizer = f"{GROUP}/finalizer"
    settings.persistence.progress_storage = kopf.AnnotationsProgressStorage(
        prefix=ANNOTATION_PREFIX
    )
    settings.persistence.diffbase_storage = kopf.AnnotationsDiffBaseStorage(
        prefix=ANNOTATION_PREFIX, key="last-handled-configuration"
    )
    # Kubernetes Events for meaningful failures only, not for every handler run.
    settings.posting.level = logging.WARNING
    settings.watching.server_timeout = 270
    settings.watching.client_timeout = 300

    operator_settings = OperatorSettings()
    runtime = Runtime(operator_settings, Kube(), ServiceClient(operator_settings))
    memo.runtime = runtime
    memo.heartbeat = asyncio.create_task(_heartbeat(runtime))


@kopf.on.cleanup()
async def cleanup(memo: kopf.Memo, **_: Any) -> None:
    memo.heartbeat.cancel()
    await memo.runtime.aclose()


async def _heartbeat(runtime: Runtime) -> None:
    while True:
        try:
            await runtime.kube.reachable()
            runtime.last_heartbeat = time.monotonic()
        except Exception as error:
            log.warning("Kubernetes API unreachable: %s", type(error).__name__)
        await asyncio.sleep(runtime.settings.heartbeat_interval_seconds)


@kopf.on.probe(id="heartbeat")
def heartbeat(memo: kopf.Memo, **_: Any) -> float:
    """Liveness: seconds since the operator last used the Kubernetes API."""
    runtime: Runtime = memo.runtime
    if runtime.last_heartbeat is None:
        raise kopf.PermanentError("no successful call to the Kubernetes API yet")
    age = time.monotonic() - runtime.last_heartbeat
    if age > runtime.settings.heartbeat_timeout_seconds:
        raise kopf.PermanentError(f"no successful call to the Kubernetes API for {age:.0f}s")
    return round(age, 1)


# ------------------------------------------------------------------ indexes
# Handlers receive the indexes as keyword arguments named after these
# functions; `_selectable` reads them.


@kopf.index(*POLICIES)
def policy_index(
    namespace: str | None, name: str, labels: Mapping[str, str], spec: Mapping[str, Any], **_: Any
) -> dict[str | None, Named]:
    return {namespace: Named(name, dict(labels), PolicySpec.model_validate(dict(spec)))}


@kopf.index(*CHANNELS)
def channel_index(
    namespace: str | None, name: str, labels: Mapping[str, str], spec: Mapping[str, Any], **_: Any
) -> dict[str | None, Named]:
    return {
        namespace: Named(name, dict(labels), NotificationChannelSpec.model_validate(dict(spec)))
    }


@kopf.index(*INTEGRATIONS)
def integration_index(
    namespace: str | None, body: kopf.Body, **_: Any
) -> dict[str | None, dict[str, Any]]:
    return {
        namespace: {
            "metadata": dict(body.metadata),
            "spec": dict(body.spec),
            "status": dict(body.status),
        }
    }


def _in(kwargs: Mapping[str, Any], index: str) -> list[Any]:
    values: kopf.Index[str | None, Any] = kwargs[index]
    return list(values.get(kwargs["namespace"], []))


def _selectable(kwargs: Mapping[str, Any]) -> tuple[list[Named], list[Named]]:
    """The Policies and NotificationChannels of the handled object's namespace."""
    return _in(kwargs, "policy_index"), _in(kwargs, "channel_index")


# ------------------------------------------------------------------ Integration


@kopf.on.resume(*INTEGRATIONS)
@kopf.on.create(*INTEGRATIONS)
@kopf.on.update(*INTEGRATIONS)
async def integration_changed(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    outcome = await sync_integration(memo.runtime, body, *_selectable(kwargs), refresh_status=True)
    if outcome.conflict:
        kopf.warn(body, reason=outcome.reason, message=outcome.message)
    if outcome.transient:
        kopf.warn(body, reason=outcome.reason, message=outcome.message)
        raise kopf.TemporaryError(outcome.message, delay=10)


@kopf.daemon(*INTEGRATIONS, cancellation_timeout=5.0)
async def integration_maintenance(
    stopped: kopf.DaemonStopped, body: kopf.Body, memo: kopf.Memo, **kwargs: Any
) -> None:
    runtime: Runtime = memo.runtime
    while not stopped:
        await stopped.wait(runtime.settings.status_interval_seconds)
        if stopped:
            break
        try:
            await sync_integration(runtime, body, *_selectable(kwargs), refresh_status=True)
        except Exception:
            log.exception(
                "periodic sync of %s/%s failed", body.metadata.namespace, body.metadata.name
            )


@kopf.on.delete(*INTEGRATIONS)
async def integration_deleted(body: kopf.Body, memo: kopf.Memo, **_: Any) -> None:
    try:
        await revoke_integration(memo.runtime, body)
    except ServiceUnavailable as error:
        raise kopf.TemporaryError(f"cannot revoke the keys yet: {error}", delay=10) from None


# ------------------------------------------------------------------ Policy, NotificationChannel


async def _resync_namespace(
    runtime: Runtime,
    namespace: str,
    integrations: list[dict[str, Any]],
    policies: list[Named],
    channels: list[Named],
) -> None:
    for integration in integrations:
        try:
            await sync_integration(runtime, integration, policies, channels)
        except Exception:
            log.exception("re-sync of %s/%s failed", namespace, integration["metadata"]["name"])


def _selecting(
    integrations: list[dict[str, Any]], selector_field: str, labels: Mapping[str, str]
) -> int:
    count = 0
    for integration in integrations:
        spec = IntegrationSpec.model_validate(integration.get("spec") or {})
        selector: LabelSelector | None = getattr(spec, selector_field)
        if selector is not None and selector.matches(dict(labels)):
            count += 1
    return count


async def _selected_kind_changed(
    *,
    kind: str,
    selector_field: str,
    body: kopf.Body,
    memo: kopf.Memo,
    kwargs: Mapping[str, Any],
    extra_status: dict[str, Any],
) -> None:
    runtime: Runtime = memo.runtime
    namespace = body.metadata.namespace or ""
    integrations = _in(kwargs, "integration_index")
    await _resync_namespace(runtime, namespace, integrations, *_selectable(kwargs))
    if kwargs["type"] == "DELETED":
        return
    status = {
        **extra_status,
        "observedGeneration": body.metadata.get("generation"),
        "integrations": _selecting(integrations, selector_field, body.metadata.labels),
        "conditions": conditions.set_condition(
            body.status.get("conditions") or [],
            type_=conditions.READY,
            status=True,
            reason="Accepted",
            message="valid; in effect for the Integrations that select it",
            generation=body.metadata.get("generation"),
            now=datetime.now(UTC),
        ),
    }
    if any(body.status.get(key) != value for key, value in status.items()):
        await runtime.kube.patch_status(kind, namespace, body.metadata.name or "", status)


@kopf.on.event(*POLICIES)
async def policy_event(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    rules = {"rules": len(body.spec.get("rules") or [])}
    await _selected_kind_changed(
        kind="Policy",
        selector_field="policy_selector",
        body=body,
        memo=memo,
        kwargs=kwargs,
        extra_status=rules,
    )


@kopf.on.event(*CHANNELS)
async def channel_event(body: kopf.Body, memo: kopf.Memo, **kwargs: Any) -> None:
    await _selected_kind_changed(
        kind="NotificationChannel",
        selector_field="notification_channel_selector",
        body=body,
        memo=memo,
        kwargs=kwargs,
        extra_status={},
    )
