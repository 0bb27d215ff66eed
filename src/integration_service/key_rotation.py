"""``integration-service rotate-keys``: re-encrypt stored credentials under the current key.

Rotation is: set the new ``ENCRYPTION_KEY``, move the old one to ``ENCRYPTION_KEYS_PREVIOUS``,
restart, run this; once it reports nothing left, the old key can go. It works in batches of
separate transactions, so it is safe to interrupt and run again, alongside running services.
"""

from __future__ import annotations

from adapters_db.credentials import SqlCredentialStore
from adapters_observability.logging import configure_logging
from integration_service.container import Container, resolve, shutdown
from integration_service.settings import Settings


async def rotate_keys(settings: Settings, *, batch_size: int) -> int | None:
    """Re-encrypt every credential not under the current key; ``None`` when Vault keeps them."""
    configure_logging(settings.log_level, stream="stderr")
    container = Container(settings=settings)
    try:
        store = await resolve(container.stored_credentials)
        if not isinstance(store, SqlCredentialStore):
            return None  # Vault encrypts with keys of its own
        return await store.reencrypt(batch_size=batch_size)
    finally:
        await shutdown(container)
