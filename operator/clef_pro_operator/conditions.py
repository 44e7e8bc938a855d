"""Standard ``metav1.Condition`` bookkeeping. Pure.

``lastTransitionTime`` moves only when the status changes, as every
Kubernetes controller does, so ``kubectl wait --for=condition=Ready`` and
alerting on stuck conditions behave as users expect.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

READY = "Ready"
#: True while the Integration's id belongs to another source in the service.
CONFLICT = "Conflict"


def timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def set_condition(
    conditions: Sequence[dict[str, Any]],
    *,
    type_: str,
    status: bool,
    reason: str,
    message: str,
    generation: int | None,
    now: datetime,
) -> list[dict[str, Any]]:
    word = "True" if status else "False"
    previous = next((c for c in conditions if c.get("type") == type_), None)
    transition = (
        previous["lastTransitionTime"]
        if previous is not None
        and previous.get("status") == word
        and previous.get("lastTransitionTime")
        else timestamp(now)
    )
    updated = {
        "type": type_,
        "status": word,
        "reason": reason,
        "message": message,
        "lastTransitionTime": transition,
    }
    if generation is not None:
        updated["observedGeneration"] = generation
    return [c for c in conditions if c.get("type") != type_] + [updated]
