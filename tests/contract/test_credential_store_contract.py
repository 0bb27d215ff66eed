"""The CredentialStore contract, run over every implementation.

``memory`` is :class:`InMemoryCredentialStore` (the behaviour to match), ``sqlite`` and
``postgres`` the AES-GCM :class:`SqlCredentialStore`, ``vault`` the KV v2
:class:`VaultCredentialStore` against a real OpenBao dev server. Each Vault test gets a prefix of
its own on the shared server, so tests never see each other's secrets.
"""

from __future__ import annotations

import asyncio
import secrets
import traceback
from collections.abc import Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from adapters_db import SqlCredentialStore
from adapters_platforms.vault import VaultCredentialStore
from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import CredentialsUnavailable, NotFound, StorageUnavailable
from integration_core.ids import TenantId
from integration_core.ports import CredentialStore
from integration_core.testing import InMemoryCredentialStore

CREDENTIAL_BACKENDS = ("memory", "sqlite", "postgres", "vault")
KEYS = (secrets.token_bytes(32), secrets.token_bytes(32))

ACME = TenantId("acme")
GLOBEX = TenantId("globex")


def ref(
    name: str = "access_token", *, tenant: str = ACME, integration: str = "int_1"
) -> CredentialRef:
    """Return a credential ref, by default acme's int_1 access token."""
    return CredentialRef(tenant_id=TenantId(tenant), integration_id=integration, name=name)


def assert_hidden(value: str, *objects: object) -> None:
    """Fail if *value* shows in the repr or str of any of *objects* (or their error chains)."""
    for obj in objects:
        texts = [repr(obj), str(obj)]
        if isinstance(obj, BaseException):
            texts.append("".join(traceback.format_exception(obj)))
        for text in texts:
            assert value not in text, f"a secret leaked into {type(obj).__name__}: {text!r}"


@pytest.fixture(params=CREDENTIAL_BACKENDS)
def credential_store(request: pytest.FixtureRequest) -> Iterator[CredentialStore]:
    """Return an empty credential store of each implementation in turn."""
    kind: str = request.param
    if kind == "memory":
        yield InMemoryCredentialStore()
        return
    if kind == "vault":
        server = request.getfixturevalue("openbao")
        store = VaultCredentialStore(
            url=server.url, token=Secret(server.token), prefix=f"t-{secrets.token_hex(6)}"
        )
        yield store
        store.close()
        return
    engine: AsyncEngine = request.getfixturevalue(f"{kind}_engine")
    yield SqlCredentialStore(engine=engine, keys=KEYS)


@pytest.fixture(params=CREDENTIAL_BACKENDS, ids=[f"{kind}_down" for kind in CREDENTIAL_BACKENDS])
def unreachable_credential_store(request: pytest.FixtureRequest) -> CredentialStore:
    """Return a credential store whose backing service cannot be reached (needs no server)."""
    kind: str = request.param
    if kind == "memory":
        store = InMemoryCredentialStore()
        store.available = False
        return store
    if kind == "vault":
        return VaultCredentialStore(url="http://127.0.0.1:1", token=Secret("s.unreachable-token"))
    name = "unreachable_sqlite_engine" if kind == "sqlite" else "unreachable_postgres_engine"
    engine: AsyncEngine = request.getfixturevalue(name)
    return SqlCredentialStore(engine=engine, keys=KEYS)


# --------------------------------------------------------------------------- put and get


async def test_a_stored_secret_reads_back(credential_store: CredentialStore) -> None:
    await credential_store.put(ref(), Secret("EAAG-token-1234"))

    found = await credential_store.get(ref())

    assert found.reveal() == "EAAG-token-1234"


async def test_put_replaces_the_secret(credential_store: CredentialStore) -> None:
    await credential_store.put(ref(), Secret("first"))
    await credential_store.put(ref(), Secret("second"))

    assert (await credential_store.get(ref())).reveal() == "second"


async def test_putting_the_same_value_again_is_harmless(credential_store: CredentialStore) -> None:
    await credential_store.put(ref(), Secret("same"))
    await credential_store.put(ref(), Secret("same"))

    assert (await credential_store.get(ref())).reveal() == "same"


async def test_fields_of_one_integration_are_kept_apart(credential_store: CredentialStore) -> None:
    await credential_store.put(ref("access_token"), Secret("token"))
    await credential_store.put(ref("app_secret"), Secret("app"))
    await credential_store.put(ref("access_token"), Secret("token-2"))

    assert (await credential_store.get(ref("access_token"))).reveal() == "token-2"
    assert (await credential_store.get(ref("app_secret"))).reveal() == "app"


async def test_a_secret_never_stored_is_not_found(credential_store: CredentialStore) -> None:
    with pytest.raises(NotFound):
        await credential_store.get(ref())


async def test_another_field_tenant_or_integration_does_not_answer_for_it(
    credential_store: CredentialStore,
) -> None:
    await credential_store.put(ref("access_token"), Secret("acme-token"))

    for missing in (
        ref("refresh_token"),
        ref(tenant=GLOBEX),
        ref(integration="int_2"),
    ):
        with pytest.raises(NotFound) as caught:
            await credential_store.get(missing)
        assert_hidden("acme-token", caught.value)


async def test_ids_that_look_like_paths_stay_apart(credential_store: CredentialStore) -> None:
    # Joined naively with "/", each pair would be the same place.
    await credential_store.put(ref(tenant="a/b", integration="c"), Secret("one"))
    await credential_store.put(ref(tenant="a", integration="b/c"), Secret("two"))
    await credential_store.put(ref(tenant="..", integration="x"), Secret("three"))
    await credential_store.put(ref(tenant="a b", integration="ünï"), Secret("four"))

    assert (await credential_store.get(ref(tenant="a/b", integration="c"))).reveal() == "one"
    assert (await credential_store.get(ref(tenant="a", integration="b/c"))).reveal() == "two"
    assert (await credential_store.get(ref(tenant="..", integration="x"))).reveal() == "three"
    assert (await credential_store.get(ref(tenant="a b", integration="ünï"))).reveal() == "four"
    with pytest.raises(NotFound):
        await credential_store.get(ref(tenant="x", integration=".."))


@pytest.mark.parametrize(
    "value",
    [
        "contraseña-ñandú",
        "秘密のトークン",
        "🔑🗝️👩‍💻",
        "שלום-مرحبا",
        "e\u0301\u200b\u2028tab\there\nline",
        '{"json": "looking", "quote": "\\"", "slash": "\\\\"}',
    ],
    ids=["latin", "cjk", "emoji", "rtl", "combining-and-controls", "json-like"],
)
async def test_unicode_values_round_trip(credential_store: CredentialStore, value: str) -> None:
    await credential_store.put(ref(), Secret(value))

    assert (await credential_store.get(ref())).reveal() == value


async def test_a_long_value_round_trips(credential_store: CredentialStore) -> None:
    value = secrets.token_urlsafe(6144)[:8191] + "€"  # 8 KiB of characters
    assert len(value) == 8192

    await credential_store.put(ref(), Secret(value))

    assert (await credential_store.get(ref())).reveal() == value


async def test_concurrent_puts_of_different_fields_all_survive(
    credential_store: CredentialStore,
) -> None:
    fields = {f"field_{n}": f"value-{n}-{secrets.token_hex(4)}" for n in range(12)}

    await asyncio.gather(
        *(credential_store.put(ref(name), Secret(value)) for name, value in fields.items())
    )

    for name, value in fields.items():
        assert (await credential_store.get(ref(name))).reveal() == value


# --------------------------------------------------------------------------- delete_all


async def test_delete_all_removes_every_field_of_the_integration(
    credential_store: CredentialStore,
) -> None:
    await credential_store.put(ref("access_token"), Secret("token"))
    await credential_store.put(ref("app_secret"), Secret("app"))

    await credential_store.delete_all(ACME, "int_1")

    for name in ("access_token", "app_secret"):
        with pytest.raises(NotFound):
            await credential_store.get(ref(name))


async def test_delete_all_leaves_other_integrations_and_tenants_alone(
    credential_store: CredentialStore,
) -> None:
    await credential_store.put(ref(), Secret("acme-1"))
    await credential_store.put(ref(integration="int_2"), Secret("acme-2"))
    await credential_store.put(ref(tenant=GLOBEX), Secret("globex-1"))

    await credential_store.delete_all(ACME, "int_1")

    assert (await credential_store.get(ref(integration="int_2"))).reveal() == "acme-2"
    assert (await credential_store.get(ref(tenant=GLOBEX))).reveal() == "globex-1"


async def test_delete_all_of_nothing_is_fine_and_the_integration_can_store_again(
    credential_store: CredentialStore,
) -> None:
    await credential_store.delete_all(ACME, "int_never")
    await credential_store.put(ref(), Secret("old"))
    await credential_store.delete_all(ACME, "int_1")
    await credential_store.delete_all(ACME, "int_1")

    await credential_store.put(ref(), Secret("new"))

    assert (await credential_store.get(ref())).reveal() == "new"


# --------------------------------------------------------------------------- secrecy


async def test_no_secret_shows_in_what_the_store_returns_or_raises(
    credential_store: CredentialStore,
) -> None:
    value = "sk_live_" + secrets.token_hex(16)
    await credential_store.put(ref(), Secret(value))

    found = await credential_store.get(ref())
    with pytest.raises(NotFound) as caught:
        await credential_store.get(ref("other"))

    assert found.reveal() == value
    assert_hidden(value, found, ref(), credential_store, caught.value)
    assert_hidden(value[-12:], found, credential_store, caught.value)


async def test_a_store_that_cannot_be_reached_says_so_without_the_secret(
    unreachable_credential_store: CredentialStore,
) -> None:
    value = "sk_live_" + secrets.token_hex(16)

    with pytest.raises((CredentialsUnavailable, StorageUnavailable)) as put_error:
        await unreachable_credential_store.put(ref(), Secret(value))
    with pytest.raises((CredentialsUnavailable, StorageUnavailable)):
        await unreachable_credential_store.get(ref())
    with pytest.raises((CredentialsUnavailable, StorageUnavailable)):
        await unreachable_credential_store.delete_all(ACME, "int_1")

    assert_hidden(value, put_error.value, unreachable_credential_store)
    assert_hidden("s.unreachable-token", put_error.value, unreachable_credential_store)
