"""Keep integration secrets AES-256-GCM encrypted in the ``credentials`` table.

The SQL ``CredentialStore``: one row per secret (tenant, integration, field name), sealed by
:class:`~adapters_db.cipher.CredentialCipher` with that triple as associated data. Key rotation
is :meth:`SqlCredentialStore.reencrypt`: it moves every row still under a previous key to the
current one, in batches of separate transactions, so it can be interrupted and run again.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, RowMapping, and_, delete, func, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.dml import Insert

from adapters_db.cipher import CredentialCipher, Sealed, UnknownEncryptionKey
from adapters_db.engine import for_writing, is_postgres
from adapters_db.errors import storage_errors
from adapters_db.tables import credentials
from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import NotFound
from integration_core.ids import TenantId

_PRIMARY_KEY = (credentials.c.tenant_id, credentials.c.integration_id, credentials.c.name)


class SqlCredentialStore:
    """Keep secrets encrypted in PostgreSQL or SQLite under *keys* (current first).

    *keys* are 32-byte AES-256 keys: new values are sealed under the first, and every one of
    them opens values sealed under it, so previous keys stay readable until :meth:`reencrypt`
    has moved their rows. Raises :class:`~integration_core.errors.ConfigurationError` for no
    key or a key that is not 32 bytes.
    """

    def __init__(self, *, engine: AsyncEngine, keys: Sequence[bytes]) -> None:
        self._engine = engine
        self._writer = for_writing(engine)
        self._cipher = CredentialCipher(keys=keys)

    @property
    def current_key_id(self) -> str:
        """Return the id of the key new values are encrypted under (safe to log)."""
        return self._cipher.current_key_id

    async def put(self, ref: CredentialRef, secret: Secret) -> None:
        """Encrypt under the current key; see :meth:`CredentialStore.put`."""
        sealed = self._cipher.encrypt(ref, secret)
        now = datetime.now(UTC)
        row = {
            "tenant_id": ref.tenant_id,
            "integration_id": ref.integration_id,
            "name": ref.name,
            "key_id": sealed.key_id,
            "nonce": sealed.nonce,
            "ciphertext": sealed.ciphertext,
            "created_at": now,
            "updated_at": now,
        }
        with storage_errors():
            async with self._writer.begin() as conn:
                await conn.execute(self._upsert(row))

    async def get(self, ref: CredentialRef) -> Secret:
        """Decrypt; see :meth:`CredentialStore.get`.

        Raises :class:`~adapters_db.cipher.UnknownEncryptionKey` if it was encrypted under a key
        that is not configured, and :class:`~adapters_db.cipher.CredentialUndecryptable` if it does
        not authenticate (tampered with, or copied from another row).
        """
        stmt = select(credentials.c.key_id, credentials.c.nonce, credentials.c.ciphertext).where(
            _matches(ref)
        )
        with storage_errors():
            async with self._engine.connect() as conn:
                row = (await conn.execute(stmt)).mappings().one_or_none()
        if row is None:
            raise NotFound(f"credential {ref.name} of {ref.integration_id} was not found")
        return self._cipher.decrypt(ref, _sealed(row))

    async def delete_all(self, tenant_id: TenantId, integration_id: str) -> None:
        """See :meth:`CredentialStore.delete_all`."""
        stmt = delete(credentials).where(
            credentials.c.tenant_id == tenant_id, credentials.c.integration_id == integration_id
        )
        with storage_errors():
            async with self._writer.begin() as conn:
                await conn.execute(stmt)

    async def count_by_key_id(self) -> Mapping[str, int]:
        """Return how many secrets each key id has sealed (to follow a rotation)."""
        stmt = select(credentials.c.key_id, func.count()).group_by(credentials.c.key_id)
        with storage_errors():
            async with self._engine.connect() as conn:
                rows = (await conn.execute(stmt)).all()
        return {str(ident): int(count) for ident, count in rows}

    async def reencrypt(self, *, batch_size: int = 100) -> int:
        """Re-encrypt every secret under a previous key with the current one; return how many.

        Works in batches of *batch_size* rows, each its own transaction (see
        :meth:`reencrypt_batch`), so an interrupted run keeps what it finished and a second
        run carries on; a run with nothing to do changes nothing and returns 0. Replicas may
        run it at once: each batch locks its rows, and the others skip them.

        Rows under a key id that is not configured cannot be moved: once every other row is
        done, :class:`~adapters_db.cipher.UnknownEncryptionKey` names those key ids.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        changed = 0
        while moved := await self.reencrypt_batch(batch_size=batch_size):
            changed += moved
        stranded = {
            ident: count
            for ident, count in (await self.count_by_key_id()).items()
            if ident not in self._cipher.key_ids
        }
        if stranded:
            raise UnknownEncryptionKey(
                f"re-encrypted {changed} credentials, but {sum(stranded.values())} are "
                f"encrypted under key ids {sorted(stranded)} that are not configured; add "
                "those keys to ENCRYPTION_KEYS_PREVIOUS and run the rotation again"
            )
        return changed

    async def reencrypt_batch(self, *, batch_size: int = 100) -> int:
        """Re-encrypt up to *batch_size* secrets under a previous key, in one transaction.

        The rows are locked for the transaction: ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (a
        concurrent rotation takes other rows), ``BEGIN IMMEDIATE`` on SQLite (one writer at a
        time). Returns how many rows changed; 0 means none is left to do (or every remaining
        one is another rotation's right now). A row that fails to decrypt aborts the batch,
        which then changes nothing. ``updated_at`` is kept: the secret itself did not change.
        """
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        previous = self._cipher.previous_key_ids
        if not previous:
            return 0
        pick = (
            select(
                *_PRIMARY_KEY, credentials.c.key_id, credentials.c.nonce, credentials.c.ciphertext
            )
            .where(credentials.c.key_id.in_(previous))
            .order_by(*_PRIMARY_KEY)
            .limit(batch_size)
            .with_for_update(skip_locked=True)
        )
        with storage_errors():
            async with self._writer.begin() as conn:
                rows = (await conn.execute(pick)).mappings().all()
                return sum([await self._reseal(conn, row) for row in rows])

    async def _reseal(self, conn: AsyncConnection, row: RowMapping) -> int:
        ref = CredentialRef(
            tenant_id=TenantId(row["tenant_id"]),
            integration_id=row["integration_id"],
            name=row["name"],
        )
        old = _sealed(row)
        new = self._cipher.reseal(ref, old)
        stmt = (
            update(credentials)
            .where(_matches(ref), credentials.c.key_id == old.key_id)
            .values(key_id=new.key_id, nonce=new.nonce, ciphertext=new.ciphertext)
        )
        return int((await conn.execute(stmt)).rowcount)

    def _upsert(self, row: dict[str, Any]) -> Insert:
        # created_at stays as first stored; the sealed value and updated_at are replaced.
        replaced = ("key_id", "nonce", "ciphertext", "updated_at")
        if is_postgres(self._engine):
            pg = postgresql.insert(credentials).values(row)
            return pg.on_conflict_do_update(
                index_elements=list(_PRIMARY_KEY),
                set_={name: pg.excluded[name] for name in replaced},
            )
        lite = sqlite.insert(credentials).values(row)
        return lite.on_conflict_do_update(
            index_elements=list(_PRIMARY_KEY),
            set_={name: lite.excluded[name] for name in replaced},
        )

    def __repr__(self) -> str:
        return f"SqlCredentialStore(key_ids={list(self._cipher.key_ids)!r})"


def _matches(ref: CredentialRef) -> ColumnElement[bool]:
    return and_(
        credentials.c.tenant_id == ref.tenant_id,
        credentials.c.integration_id == ref.integration_id,
        credentials.c.name == ref.name,
    )


def _sealed(row: RowMapping) -> Sealed:
    return Sealed(
        key_id=row["key_id"], nonce=bytes(row["nonce"]), ciphertext=bytes(row["ciphertext"])
    )
