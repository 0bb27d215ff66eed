"""The one error hierarchy of the service.

Every leaf's docstring is its default message, so ``raise NotFound()`` reads well in a log and the
HTTP adapter maps each class to a status code and a stable JSON ``code`` in one table.
"""

from __future__ import annotations


class IntegrationServiceError(Exception):
    """Something went wrong in integration-service."""

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or (type(self).__doc__ or type(self).__name__).strip())

    @property
    def message(self) -> str:
        """Return the human-readable message, safe to show to a caller."""
        return str(self.args[0])


class InvalidInput(IntegrationServiceError):
    """The request is not valid."""

    def __init__(self, message: str | None = None, *, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class NotFound(IntegrationServiceError):
    """The resource does not exist."""


class Conflict(IntegrationServiceError):
    """The request conflicts with the current state of the resource."""


class IntegrationExists(Conflict):
    """This external account is already connected to an integration."""


class IdempotencyKeyInProgress(Conflict):
    """A request with this Idempotency-Key is still being processed; retry shortly."""


class Unauthorized(IntegrationServiceError):
    """A valid bearer token is required."""


class Forbidden(IntegrationServiceError):
    """The token does not grant the scope this operation needs."""


class InvalidSignature(IntegrationServiceError):
    """The webhook signature is missing or does not match."""


class InvalidCredentials(IntegrationServiceError):
    """The platform rejected the credentials."""


class PermissionMissing(InvalidCredentials):
    """The credentials lack a permission this integration needs."""


class PlatformError(IntegrationServiceError):
    """The platform failed to answer the request."""


class PlatformUnavailable(PlatformError):
    """The platform is unavailable; try again later."""


class PlatformRateLimited(PlatformError):
    """The platform is rate limiting our requests; try again later."""

    def __init__(self, message: str | None = None, *, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class DeliveryFailed(IntegrationServiceError):
    """The messaging service did not accept the event."""


class EventUnserializable(DeliveryFailed):
    """The event cannot be serialized or signed for the messaging service; no retry can help."""


class StorageUnavailable(IntegrationServiceError):
    """The database cannot be reached; try again later."""


class CredentialsUnavailable(IntegrationServiceError):
    """The credential store cannot be reached; try again later."""


class RefundExceedsBalance(InvalidInput):
    """The refund is larger than what is left to refund."""


class IdempotencyKeyReused(InvalidInput):
    """This Idempotency-Key was already used with a different request."""


class ConfigurationError(IntegrationServiceError):
    """The service is not configured correctly."""

    def __init__(self, message: str | None = None, *, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems = problems


class PaymentsNotConfigured(ConfigurationError):
    """Payments need a Mercado Pago account: connect a seller account or set MP_ACCESS_TOKEN."""


class PreconditionFailed(Conflict):
    """The resource changed since the version the request names (If-Match)."""


class MalformedPayload(InvalidInput):
    """The verified request body is not valid JSON."""
