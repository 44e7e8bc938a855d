"""Kubernetes identities: tokens checked with a TokenReview against the API server.

The service never parses a ServiceAccount token itself: the API server that
issued it says who it belongs to and for which audiences, which also honours
revocation (a deleted ServiceAccount's tokens stop working). Verdicts are kept
for a few seconds, keyed by the token's SHA-256 (never the token), so a busy
operator does not cost one API call per request.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from lightkube import Client, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.models.authentication_v1 import TokenReviewSpec
from lightkube.models.authorization_v1 import ResourceAttributes, SubjectAccessReviewSpec
from lightkube.resources.authentication_v1 import TokenReview
from lightkube.resources.authorization_v1 import SubjectAccessReview

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class KubernetesIdentity:
    username: str
    groups: tuple[str, ...]


class TokenReviewer:
    """Asks the API server who a bearer token belongs to, for one audience.

    ``audience=None`` accepts the API server's own audiences: what people's
    tokens carry (``kubectl create token``, OIDC), as opposed to the projected
    tokens minted for this service."""

    def __init__(
        self,
        *,
        audience: str | None,
        kubeconfig: Path | None = None,
        cache_seconds: float = 30.0,
        cache_size: int = 4096,
    ) -> None:
        config = KubeConfig.from_file(kubeconfig) if kubeconfig else KubeConfig.from_env()
        self._client = Client(config=config, field_manager="clef-pro")
        self._audience = audience
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        self._cache: OrderedDict[str, tuple[float, KubernetesIdentity | None]] = OrderedDict()
        self._lock = threading.Lock()

    def review(self, token: str) -> KubernetesIdentity | None:
        """The identity the token proves, or ``None`` if it proves none for our audience."""
        key = hashlib.sha256(token.encode()).hexdigest()
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        identity = self._ask(token)
        with self._lock:
            self._cache[key] = (now + self._cache_seconds, identity)
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return identity

    def _ask(self, token: str) -> KubernetesIdentity | None:
        try:
            review = self._client.create(
                TokenReview(
                    spec=TokenReviewSpec(
                        token=token,
                        audiences=[self._audience] if self._audience is not None else None,
                    )
                )
            )
        except ApiError as error:
            # The service's own RBAC must allow creating TokenReviews; say so once per failure.
            log.warning("TokenReview refused by the API server: %s", error.status.code)
            return None
        status = review.status
        if status is None or not status.authenticated or status.user is None:
            return None
        if self._audience is not None and self._audience not in (status.audiences or []):
            return None
        return KubernetesIdentity(
            username=status.user.username or "", groups=tuple(status.user.groups or ())
        )


@dataclass(frozen=True, slots=True)
class ResourceRef:
    """A namespaced object of a custom resource type, for an access check."""

    group: str
    resource: str
    namespace: str
    name: str


class AccessReviewer:
    """Asks the API server whether a user may do ``verb`` on one object (a
    SubjectAccessReview), so access follows the RBAC people already manage.

    Verdicts are kept for ``cache_seconds``: a revoked RoleBinding takes
    effect within that long. Any failure to ask is a denial."""

    def __init__(
        self,
        *,
        kubeconfig: Path | None = None,
        cache_seconds: float = 10.0,
        cache_size: int = 4096,
    ) -> None:
        config = KubeConfig.from_file(kubeconfig) if kubeconfig else KubeConfig.from_env()
        self._client = Client(config=config, field_manager="clef-pro")
        self._cache_seconds = cache_seconds
        self._cache_size = cache_size
        self._cache: OrderedDict[tuple[object, ...], tuple[float, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def allowed(self, user: KubernetesIdentity, verb: str, target: ResourceRef) -> bool:
        key = (user.username, user.groups, verb, target)
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        verdict = self._ask(user, verb, target)
        with self._lock:
            self._cache[key] = (now + self._cache_seconds, verdict)
            self._cache.move_to_end(key)
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return verdict

    def _ask(self, user: KubernetesIdentity, verb: str, target: ResourceRef) -> bool:
        review = SubjectAccessReview(
            spec=SubjectAccessReviewSpec(
                user=user.username,
                groups=list(user.groups),
                resourceAttributes=ResourceAttributes(
                    group=target.group,
                    resource=target.resource,
                    namespace=target.namespace,
                    name=target.name,
                    verb=verb,
                ),
            )
        )
        try:
            answer = self._client.create(review)
        except ApiError as error:
            # The service's own RBAC must allow creating SubjectAccessReviews.
            log.warning("SubjectAccessReview refused by the API server: %s", error.status.code)
            return False
        except Exception as error:  # an unreachable API server denies, it never allows
            log.warning("SubjectAccessReview failed: %s", type(error).__name__)
            return False
        status = answer.status
        return bool(status is not None and status.allowed and not status.denied)
