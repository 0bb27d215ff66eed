"""Translate hvac's and ``requests``' errors into the domain's, in one place."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import hvac.exceptions

from integration_core.errors import CredentialsUnavailable


@contextmanager
def vault_errors(action: str) -> Iterator[None]:
    """Turn hvac and transport errors raised in the block into :class:`CredentialsUnavailable`.

    Messages say what happened and never hold the token; nor does the text of the chained
    cause (hvac's errors name the method and URL, ``requests``' the host), which is kept for
    the operator's traceback.
    """
    try:
        yield
    except hvac.exceptions.InvalidPath as exc:
        raise CredentialsUnavailable(
            f"Vault has no KV v2 secrets engine at the configured mount ({action})"
        ) from exc
    except (hvac.exceptions.Forbidden, hvac.exceptions.Unauthorized) as exc:
        raise CredentialsUnavailable(
            f"Vault refused the token: permission denied ({action})"
        ) from exc
    except hvac.exceptions.VaultDown as exc:
        raise CredentialsUnavailable(f"Vault is sealed or unavailable ({action})") from exc
    except hvac.exceptions.VaultNotInitialized as exc:
        raise CredentialsUnavailable(f"Vault is not initialized ({action})") from exc
    except hvac.exceptions.VaultError as exc:
        raise CredentialsUnavailable(
            f"Vault answered with an error ({type(exc).__name__}, {action})"
        ) from exc
    except OSError as exc:  # requests' errors are OSErrors: refused, timed out, TLS, DNS
        raise CredentialsUnavailable(
            f"Vault could not be reached ({type(exc).__name__}, {action})"
        ) from exc
