"""The component's `gateway-error`, as Python exceptions: one subclass of
`GatewayError` per case, so ``except RateLimited`` works; `kind` is the WIT
case name and `detail` its payload (see `types.GatewayErrorValue`)."""

from __future__ import annotations

from typing import Any, Optional


class InstanceTrapped(RuntimeError):
    """The component instance trapped. It cannot be used again: open a new
    `Instance`/`Gateway`. (A trap is a bug -- bad input is a
    `GatewayError` -- so please report it.)"""


class GatewayError(Exception):
    """A `gateway-error` returned by the component."""

    kind: str = ""

    def __init__(self, kind: str, detail: Any):
        self.kind = kind
        self.detail = detail
        message = detail.get("message") if isinstance(detail, dict) else detail
        super().__init__(f"{kind}: {message}" if message is not None else kind)

    @classmethod
    def from_wit(cls, value: dict[str, Any]) -> "GatewayError":
        """From the lifted variant ``{"tag": kind, "val": detail}``."""
        sub = _BY_KIND.get(value["tag"], GatewayError)
        return sub(value["tag"], value.get("val"))

    def _field(self, name: str) -> Any:
        return self.detail.get(name) if isinstance(self.detail, dict) else None

    @property
    def status(self) -> Optional[int]:
        """The upstream HTTP status, when there was one."""
        return self._field("status")

    @property
    def retry_after_ms(self) -> Optional[int]:
        """How long the server (or the gateway's own rate limit) asked to wait."""
        return self._field("retry-after-ms")

    @property
    def attempts(self) -> list[Any]:
        """The upstream attempts of the failed call (empty when none was made)."""
        return self._field("attempts") or []


class ValidationError(GatewayError, ValueError):
    """`validation`: the request or configuration is invalid."""


class AuthError(GatewayError):
    """`auth`: the provider rejected the credentials."""


class NotFound(GatewayError):
    """`not-found`: the provider does not know the model or endpoint."""


class RateLimited(GatewayError):
    """`rate-limited`: by the provider (429) or by the gateway's own limits."""


class GatewayTimeout(GatewayError, TimeoutError):
    """`timeout`: a deadline passed."""


class ServiceUnavailable(GatewayError):
    """`service-unavailable`: overloaded, or the connection failed."""


class UpstreamError(GatewayError):
    """`upstream`: any other non-success answer."""


class BudgetExceeded(GatewayError):
    """`budget-exceeded`: the configured cost budget is spent."""


class ModelNotAllowed(GatewayError):
    """`model-not-allowed`: the allowlist does not permit the model."""


class InternalError(GatewayError):
    """`internal`: a bug or a host failure (e.g. the key-value store failed)."""


_BY_KIND: dict[str, type[GatewayError]] = {
    "validation": ValidationError,
    "auth": AuthError,
    "not-found": NotFound,
    "rate-limited": RateLimited,
    "timeout": GatewayTimeout,
    "service-unavailable": ServiceUnavailable,
    "upstream": UpstreamError,
    "budget-exceeded": BudgetExceeded,
    "model-not-allowed": ModelNotAllowed,
    "internal": InternalError,
}
for _kind, _cls in _BY_KIND.items():
    _cls.kind = _kind
