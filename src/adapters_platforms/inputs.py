"""Read what a channel setup needs from credentials, config and the integration.

A missing field is the caller's mistake (:class:`InvalidInput`), told before any platform call;
:func:`checking_credentials` then turns a platform's rejection of the request during validation
into :class:`InvalidCredentials`, because during setup "object does not exist" or "chat not
found" means the credentials and ids the tenant gave do not work together.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from integration_core.channels import Channel, Integration
from integration_core.credentials import Secret
from integration_core.errors import InvalidCredentials, InvalidInput


def secret(credentials: Mapping[str, Secret], name: str, *, channel: Channel) -> Secret:
    """Return the non-empty credential *name*, or raise :class:`InvalidInput`."""
    value = credentials.get(name)
    if value is None or not value:
        raise InvalidInput(f"{channel} needs the credential {name}")
    return value


def setting(config: Mapping[str, str], name: str, *, channel: Channel) -> str:
    """Return the non-blank config value *name*, stripped, or raise :class:`InvalidInput`."""
    value = (config.get(name) or "").strip()
    if not value:
        raise InvalidInput(f"{channel} needs the setting {name}")
    return value


def webhook_url(integration: Integration) -> str:
    """Return where the integration's webhooks go, or raise :class:`InvalidInput`."""
    if not integration.webhook_url:
        raise InvalidInput(f"integration {integration.id} has no webhook URL to register")
    return integration.webhook_url


@contextmanager
def checking_credentials() -> Iterator[None]:
    """Report a platform's rejection of a validation call as :class:`InvalidCredentials`."""
    try:
        yield
    except InvalidCredentials:
        raise
    except InvalidInput as exc:
        raise InvalidCredentials(exc.message) from exc
