"""The SQL credential store's encryption at rest and key rotation, on SQLite and PostgreSQL.

What the contract suite cannot see: the raw rows (never plaintext), the associated data that
ties a ciphertext to its row and field, previous and unknown keys, and ``reencrypt`` moving
every row to the current key in batches that survive an interruption.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import traceback
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import SqlCredentialStore, create_engine
from adapters_db.cipher import (
    KEY_BYTES,
    NONCE_BYTES,
    CredentialCipher,
    CredentialUndecryptable,
    Sealed,
    UnknownEncryptionKey,
    associated_data,
    key_id,
)
from adapters_db.tables import credentials
from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import ConfigurationError, CredentialsUnavailable, NotFound
from integration_core.ids import TenantId

OLDER = secrets.token_bytes(KEY_BYTES)
OLD = secrets.token_bytes(KEY_BYTES)
NEW = secrets.token_bytes(KEY_BYTES)
STRANGER = secrets.token_bytes(KEY_BYTES)

ACME = TenantId("acme")


def ref(
    name: str = "access_token", *, tenant: str = ACME, integration: str = "int_1"
) -> CredentialRef:
    """Return a credential ref, by default acme's int_1 access token."""
    return CredentialRef(tenant_id=TenantId(tenant), integration_id=integration, name=name)


def leaks(error: BaseException, *values: str | bytes) -> list[str]:
    """Return which of *values* (text, or raw key bytes in hex and base64) *error* shows."""
    text = repr(error) + str(error) + "".join(traceback.format_exception(error))
    found = []
    for value in values:
        forms = (
            [value]
            if isinstance(value, str)
            else [value.hex(), base64.b64encode(value).decode(), repr(value)]
        )
        found += [form for form in forms if form in text]
    return found


@pytest.fixture(params=["sqlite", "postgres"])
def engine(request: pytest.FixtureRequest) -> AsyncEngine:
    """Return an engine on a migrated, empty database of each kind."""
    found: AsyncEngine = request.getfixturevalue(f"{request.param}_engine")
    return found


async def raw_rows(engine: AsyncEngine) -> list[dict[str, Any]]:
    """Return every row of the credentials table as stored, in primary key order."""
    stmt = sa.select(credentials).order_by(
        credentials.c.tenant_id, credentials.c.integration_id, credentials.c.name
    )
    async with engine.connect() as conn:
        return [dict(row) for row in (await conn.execute(stmt)).mappings()]


async def copy_sealed(engine: AsyncEngine, source: CredentialRef, target: CredentialRef) -> None:
    """Store *source*'s key id, nonce and ciphertext, byte for byte, at *target*."""
    async with engine.begin() as conn:
        row = (
            (
                await conn.execute(
                    sa.select(credentials).where(
                        credentials.c.tenant_id == source.tenant_id,
                        credentials.c.integration_id == source.integration_id,
                        credentials.c.name == source.name,
                    )
                )
            )
            .mappings()
            .one()
        )
        await conn.execute(
            credentials.insert().values(
                {
                    **row,
                    "tenant_id": target.tenant_id,
                    "integration_id": target.integration_id,
                    "name": target.name,
                }
            )
        )


async def fill(
    store: SqlCredentialStore, count: int, *, prefix: str = "int"
) -> dict[CredentialRef, str]:
    """Store *count* secrets spread over a few integrations; return what was stored."""
    stored = {
        ref(f"field_{n % 3}", integration=f"{prefix}_{n // 3}"): f"v{n}-{secrets.token_hex(4)}"
        for n in range(count)
    }
    for where, value in stored.items():
        await store.put(where, Secret(value))
    return stored


async def assert_readable(store: SqlCredentialStore, stored: dict[CredentialRef, str]) -> None:
    """Check every secret of *stored* still reads back through *store*."""
    for where, value in stored.items():
        assert (await store.get(where)).reveal() == value


# --------------------------------------------------------------------------- at rest


async def test_the_stored_row_holds_ciphertext_never_the_plaintext(engine: AsyncEngine) -> None:
    store = SqlCredentialStore(engine=engine, keys=[NEW])
    value = "EAAG-plaintext-token-" + secrets.token_hex(8)

    await store.put(ref(), Secret(value))

    [row] = await raw_rows(engine)
    assert (row["tenant_id"], row["integration_id"], row["name"]) == (
        "acme",
        "int_1",
        "access_token",
    )
    assert row["key_id"] == key_id(NEW) == store.current_key_id
    assert len(row["key_id"]) == 16
    assert len(row["nonce"]) == NONCE_BYTES
    assert len(row["ciphertext"]) == len(value.encode()) + 16  # plus the GCM tag
    for column in ("key_id", "nonce", "ciphertext"):
        stored = row[column] if isinstance(row[column], bytes) else row[column].encode()
        assert value.encode() not in stored
        assert value[-8:].encode() not in stored
    assert row["created_at"] == row["updated_at"]


async def test_each_put_uses_a_fresh_nonce(engine: AsyncEngine) -> None:
    store = SqlCredentialStore(engine=engine, keys=[NEW])

    await store.put(ref("a"), Secret("same value"))
    await store.put(ref("b"), Secret("same value"))
    first = (await raw_rows(engine))[0]
    await store.put(ref("a"), Secret("same value"))
    again = (await raw_rows(engine))[0]

    rows = await raw_rows(engine)
    assert rows[0]["nonce"] != rows[1]["nonce"]
    assert rows[0]["ciphertext"] != rows[1]["ciphertext"]
    assert first["nonce"] != again["nonce"]
    assert again["created_at"] == first["created_at"]
    assert again["updated_at"] >= first["updated_at"]


# --------------------------------------------------------------------------- associated data


@pytest.mark.parametrize(
    "target",
    [
        ref(integration="int_2"),
        ref("app_secret"),
        ref(tenant="globex"),
        ref(tenant="acme/int_1", integration="access_token"),
    ],
    ids=["other-integration", "other-field", "other-tenant", "shifted-parts"],
)
async def test_a_ciphertext_copied_elsewhere_does_not_decrypt(
    engine: AsyncEngine, target: CredentialRef
) -> None:
    store = SqlCredentialStore(engine=engine, keys=[NEW])
    value = "copied-secret-" + secrets.token_hex(8)
    await store.put(ref(), Secret(value))

    await copy_sealed(engine, ref(), target)

    with pytest.raises(CredentialUndecryptable) as caught:
        await store.get(target)
    assert isinstance(caught.value, CredentialsUnavailable)
    assert "does not decrypt" in caught.value.message
    assert target.name in caught.value.message
    assert leaks(caught.value, value, NEW) == []
    assert (await store.get(ref())).reveal() == value  # the original is untouched


async def test_a_tampered_ciphertext_does_not_decrypt(engine: AsyncEngine) -> None:
    store = SqlCredentialStore(engine=engine, keys=[NEW])
    await store.put(ref(), Secret("tamper-me"))
    [row] = await raw_rows(engine)
    flipped = bytes([row["ciphertext"][0] ^ 1]) + bytes(row["ciphertext"][1:])
    async with engine.begin() as conn:
        await conn.execute(sa.update(credentials).values(ciphertext=flipped))

    with pytest.raises(CredentialUndecryptable) as caught:
        await store.get(ref())

    assert leaks(caught.value, "tamper-me", NEW) == []


# --------------------------------------------------------------------------- keys


async def test_previous_keys_still_decrypt_and_new_values_use_the_current_key(
    engine: AsyncEngine,
) -> None:
    stored = {
        ref("under_older"): (OLDER, "older-value"),
        ref("under_old"): (OLD, "old-value"),
    }
    for where, (key, value) in stored.items():
        await SqlCredentialStore(engine=engine, keys=[key]).put(where, Secret(value))
    store = SqlCredentialStore(engine=engine, keys=[NEW, OLD, OLDER])

    for where, (_key, value) in stored.items():
        assert (await store.get(where)).reveal() == value
    await store.put(ref("under_new"), Secret("new-value"))

    assert await store.count_by_key_id() == {key_id(OLDER): 1, key_id(OLD): 1, key_id(NEW): 1}


async def test_a_value_under_an_unknown_key_fails_naming_the_key_id(engine: AsyncEngine) -> None:
    await SqlCredentialStore(engine=engine, keys=[STRANGER]).put(ref(), Secret("lost-value"))
    store = SqlCredentialStore(engine=engine, keys=[NEW, OLD])

    with pytest.raises(UnknownEncryptionKey) as caught:
        await store.get(ref())

    assert isinstance(caught.value, CredentialsUnavailable)
    assert key_id(STRANGER) in caught.value.message
    assert "ENCRYPTION_KEYS_PREVIOUS" in caught.value.message
    assert leaks(caught.value, "lost-value", STRANGER, NEW, OLD) == []


async def test_an_absent_credential_is_not_found_whatever_the_keys(engine: AsyncEngine) -> None:
    with pytest.raises(NotFound):
        await SqlCredentialStore(engine=engine, keys=[NEW]).get(ref())


@pytest.mark.parametrize(
    "keys",
    [[], [b"short key"], [NEW, b"x" * 33]],
    ids=["no-key", "short", "long-previous"],
)
def test_keys_that_are_not_32_bytes_are_a_configuration_error(keys: list[bytes]) -> None:
    with pytest.raises(ConfigurationError) as caught:
        CredentialCipher(keys=keys)

    assert leaks(caught.value, *keys, "short key") == []


def test_the_same_key_listed_twice_is_one_key(sqlite_engine: AsyncEngine) -> None:
    store = SqlCredentialStore(engine=sqlite_engine, keys=[NEW, OLD, NEW])

    assert store.current_key_id == key_id(NEW)
    assert NEW.hex() not in repr(store)
    assert repr(store) == f"SqlCredentialStore(key_ids={[key_id(NEW), key_id(OLD)]!r})"


# --------------------------------------------------------------------------- rotation


async def test_reencrypt_moves_every_row_to_the_current_key(engine: AsyncEngine) -> None:
    stored = await fill(SqlCredentialStore(engine=engine, keys=[OLDER]), 4, prefix="a")
    stored |= await fill(SqlCredentialStore(engine=engine, keys=[OLD]), 5, prefix="b")
    rotated = SqlCredentialStore(engine=engine, keys=[NEW, OLD, OLDER])
    await rotated.put(ref("fresh"), Secret("already-new"))
    before = {(r["integration_id"], r["name"]): r for r in await raw_rows(engine)}

    changed = await rotated.reencrypt(batch_size=2)

    assert changed == 9
    assert await rotated.count_by_key_id() == {key_id(NEW): 10}
    await assert_readable(SqlCredentialStore(engine=engine, keys=[NEW]), stored)
    for row in await raw_rows(engine):
        old = before[(row["integration_id"], row["name"])]
        assert row["updated_at"] == old["updated_at"]  # the secret itself did not change
        if old["key_id"] != key_id(NEW):
            assert row["nonce"] != old["nonce"]
    assert await rotated.reencrypt(batch_size=2) == 0  # idempotent


async def test_an_interrupted_reencrypt_keeps_its_batches_and_the_next_run_finishes(
    engine: AsyncEngine,
) -> None:
    stored = await fill(SqlCredentialStore(engine=engine, keys=[OLD]), 5)
    rotated = SqlCredentialStore(engine=engine, keys=[NEW, OLD])

    # One batch, then the run "dies": what the batch did is committed, the rest untouched.
    assert await rotated.reencrypt_batch(batch_size=1) == 1
    assert await rotated.count_by_key_id() == {key_id(NEW): 1, key_id(OLD): 4}
    await assert_readable(rotated, stored)

    assert await rotated.reencrypt(batch_size=1) == 4
    assert await rotated.count_by_key_id() == {key_id(NEW): 5}
    await assert_readable(SqlCredentialStore(engine=engine, keys=[NEW]), stored)


async def test_a_reencrypt_cancelled_mid_batch_keeps_only_the_batches_before(
    engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = await fill(SqlCredentialStore(engine=engine, keys=[OLD]), 9)
    rotated = SqlCredentialStore(engine=engine, keys=[NEW, OLD])
    reseal = CredentialCipher.reseal
    calls = 0

    def cancelled_at_the_fifth_row(
        cipher: CredentialCipher, where: CredentialRef, sealed: Sealed
    ) -> Sealed:
        nonlocal calls
        calls += 1
        if calls == 5:  # the second row of the second batch: its first row is already updated
            raise asyncio.CancelledError
        return reseal(cipher, where, sealed)

    monkeypatch.setattr(CredentialCipher, "reseal", cancelled_at_the_fifth_row)
    with pytest.raises(asyncio.CancelledError):
        await rotated.reencrypt(batch_size=3)
    monkeypatch.undo()

    assert await rotated.count_by_key_id() == {key_id(NEW): 3, key_id(OLD): 6}
    assert await rotated.reencrypt(batch_size=3) == 6
    await assert_readable(SqlCredentialStore(engine=engine, keys=[NEW]), stored)


async def test_a_row_that_fails_to_decrypt_aborts_its_batch_and_the_run(
    engine: AsyncEngine,
) -> None:
    await fill(SqlCredentialStore(engine=engine, keys=[OLD]), 6, prefix="a")
    # In key order: a_0 f0, f1 | a_0 f2, a_1 f0 | a_1 field_0a (copied: bad), f1 | a_1 f2
    await copy_sealed(engine, ref("field_0", integration="a_0"), ref("field_0a", integration="a_1"))
    rotated = SqlCredentialStore(engine=engine, keys=[NEW, OLD])

    with pytest.raises(CredentialUndecryptable) as caught:
        await rotated.reencrypt(batch_size=2)

    assert "field_0a" in caught.value.message
    assert await rotated.count_by_key_id() == {key_id(NEW): 4, key_id(OLD): 3}


async def test_reencrypt_moves_what_it_can_then_names_unknown_key_ids(engine: AsyncEngine) -> None:
    stored = await fill(SqlCredentialStore(engine=engine, keys=[OLD]), 3)
    await SqlCredentialStore(engine=engine, keys=[STRANGER]).put(ref("lost"), Secret("lost"))
    rotated = SqlCredentialStore(engine=engine, keys=[NEW, OLD])

    with pytest.raises(UnknownEncryptionKey) as caught:
        await rotated.reencrypt()

    assert key_id(STRANGER) in caught.value.message
    assert "re-encrypted 3 credentials" in caught.value.message
    assert leaks(caught.value, STRANGER, NEW, OLD, "lost") == []
    assert await rotated.count_by_key_id() == {key_id(NEW): 3, key_id(STRANGER): 1}
    await assert_readable(rotated, stored)


async def test_reencrypt_with_only_the_current_key_does_nothing(engine: AsyncEngine) -> None:
    store = SqlCredentialStore(engine=engine, keys=[NEW])
    await fill(store, 2)

    assert await store.reencrypt() == 0
    with pytest.raises(ValueError, match="batch_size"):
        await store.reencrypt(batch_size=0)


async def test_concurrent_rotations_move_each_row_once(engine: AsyncEngine) -> None:
    stored = await fill(SqlCredentialStore(engine=engine, keys=[OLD]), 30)
    url = engine.url.render_as_string(hide_password=False)
    engines = [create_engine(url) for _ in range(3)]
    try:
        counts = await asyncio.gather(
            *(
                SqlCredentialStore(engine=e, keys=[NEW, OLD]).reencrypt(batch_size=4)
                for e in engines
            )
        )
    finally:
        for e in engines:
            await e.dispose()

    assert sum(counts) == 30
    await assert_readable(SqlCredentialStore(engine=engine, keys=[NEW]), stored)


# --------------------------------------------------------------------------- the cipher

refs = st.builds(
    CredentialRef,
    tenant_id=st.text(max_size=20).map(TenantId),
    integration_id=st.text(max_size=20),
    name=st.text(max_size=20),
)
# Every Python string, lone surrogates included (Secret holds any str).
any_text = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=300)
CIPHER = CredentialCipher(keys=[NEW, OLD])


@given(where=refs, value=any_text)
def test_the_cipher_round_trips_any_text(where: CredentialRef, value: str) -> None:
    sealed = CIPHER.encrypt(where, Secret(value))

    assert sealed.key_id == key_id(NEW)
    assert CIPHER.decrypt(where, sealed).reveal() == value
    assert repr(sealed) == f"Sealed(key_id={key_id(NEW)!r})"  # nonce and ciphertext hidden


@given(where=refs, elsewhere=refs, value=any_text)
def test_the_cipher_refuses_another_ref(
    where: CredentialRef, elsewhere: CredentialRef, value: str
) -> None:
    sealed = CIPHER.encrypt(where, Secret(value))

    if associated_data(where) == associated_data(elsewhere):
        assert where == elsewhere  # the associated data is unambiguous
        return
    with pytest.raises(CredentialUndecryptable):
        CIPHER.decrypt(elsewhere, sealed)


@given(value=any_text)
def test_a_value_sealed_under_a_previous_key_reseals_under_the_current(value: str) -> None:
    old = CredentialCipher(keys=[OLD]).encrypt(ref(), Secret(value))

    new = CIPHER.reseal(ref(), old)

    assert (old.key_id, new.key_id) == (key_id(OLD), key_id(NEW))
    assert CredentialCipher(keys=[NEW]).decrypt(ref(), new).reveal() == value
    assert CIPHER.reseal(ref(), new) is new


def test_a_nonce_of_the_wrong_length_is_undecryptable_not_a_crash() -> None:
    sealed = CIPHER.encrypt(ref(), Secret("x"))

    with pytest.raises(CredentialUndecryptable):
        CIPHER.decrypt(ref(), Sealed(key_id=sealed.key_id, nonce=b"", ciphertext=sealed.ciphertext))
