"""The Vault credential store and probe against a real OpenBao dev server (and a dead port).

The contract suite covers put/get/delete_all; this covers what only Vault has: where secrets
land (path safety), how failures read (never with the token), and the health probe.
"""

from __future__ import annotations

import secrets
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import hvac
import hvac.exceptions
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters_platforms.vault import VaultCredentialStore, VaultProbe, path_segment
from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import (
    ConfigurationError,
    CredentialsUnavailable,
    InvalidInput,
    NotFound,
)
from integration_core.ids import TenantId

CLOSED = "http://127.0.0.1:1"  # nothing listens on port 1


def ref(
    name: str = "access_token", *, tenant: str = "acme", integration: str = "int_1"
) -> CredentialRef:
    """Return a credential ref, by default acme's int_1 access token."""
    return CredentialRef(tenant_id=TenantId(tenant), integration_id=integration, name=name)


def shows(error: BaseException, value: str) -> bool:
    """Tell whether *value* shows anywhere in *error*: message, repr or formatted chain."""
    text = repr(error) + str(error) + "".join(traceback.format_exception(error))
    return value in text


@pytest.fixture
def prefix() -> str:
    """Return a KV folder of this test alone."""
    return f"t-{secrets.token_hex(6)}"


@pytest.fixture
def store(openbao: Any, prefix: str) -> Iterator[VaultCredentialStore]:
    """Yield a store on the session's OpenBao, in this test's own folder."""
    created = VaultCredentialStore(url=openbao.url, token=Secret(openbao.token), prefix=prefix)
    yield created
    created.close()


@pytest.fixture
def admin(openbao: Any) -> hvac.Client:
    """Return a root client, to look at Vault behind the store's back."""
    return hvac.Client(url=openbao.url, token=openbao.token)


# --------------------------------------------------------------------------- path safety


@pytest.mark.parametrize("value", ["acme", "int_01HZX", "tenant-42", "a.b", "A_b-c.d", "x" * 128])
def test_plain_ids_are_used_as_they_are(value: str) -> None:
    assert path_segment(value) == value


@pytest.mark.parametrize(
    "value",
    ["", ".", "..", ".hidden", "a/b", "../../sys", "a b", "ü", "~x", "a%2Fb", "x" * 129, "a\\b"],
)
def test_other_ids_are_encoded_into_one_harmless_segment(value: str) -> None:
    segment = path_segment(value)

    assert segment.startswith("~")
    assert all(c.isascii() and (c.isalnum() or c in "-_~") for c in segment)


@given(st.text(), st.text())
def test_the_encoding_is_one_to_one_and_never_climbs(first: str, second: str) -> None:
    one, two = path_segment(first), path_segment(second)

    assert (one == two) == (first == second)
    assert "/" not in one
    assert one not in {"", ".", ".."}
    assert not one.startswith(".")


def test_a_hostile_tenant_stays_inside_the_prefix() -> None:
    store = VaultCredentialStore(url=CLOSED, token=Secret("t"), prefix="svc/creds")

    path = store.path(TenantId("../../sys/policy"), "../x")

    assert path.startswith("svc/creds/~")
    assert path.count("/") == 3
    assert ".." not in path.split("/")


@pytest.mark.parametrize("bad", ["../up", "a/./b", "a b", "ü"])
def test_a_prefix_or_mount_that_is_not_plain_is_refused(bad: str) -> None:
    with pytest.raises(ConfigurationError):
        VaultCredentialStore(url=CLOSED, token=Secret("t"), prefix=bad)
    with pytest.raises(ConfigurationError):
        VaultCredentialStore(url=CLOSED, token=Secret("t"), mount=bad)


def test_an_empty_mount_is_refused_and_an_empty_prefix_means_the_mount_root() -> None:
    with pytest.raises(ConfigurationError):
        VaultCredentialStore(url=CLOSED, token=Secret("t"), mount="/")

    store = VaultCredentialStore(url=CLOSED, token=Secret("t"), prefix="")

    assert store.path(TenantId("acme"), "int_1") == "acme/int_1"


async def test_hostile_ids_land_below_the_prefix_in_vault(
    store: VaultCredentialStore, admin: hvac.Client, prefix: str
) -> None:
    hostile = ref(tenant="../../escaped", integration="../x/..")

    await store.put(hostile, Secret("kept-inside"))

    assert (await store.get(hostile)).reveal() == "kept-inside"
    listed = admin.secrets.kv.v2.list_secrets(path=prefix)["data"]["keys"]
    assert listed == [path_segment("../../escaped") + "/"]
    with pytest.raises(hvac.exceptions.InvalidPath):
        admin.secrets.kv.v2.read_secret_version(path="escaped", raise_on_deleted_version=True)


# --------------------------------------------------------------------------- layout


async def test_an_integration_is_one_kv_secret_with_a_key_per_field(
    store: VaultCredentialStore, admin: hvac.Client, prefix: str
) -> None:
    await store.put(ref("access_token"), Secret("token"))
    await store.put(ref("app_secret"), Secret("app"))

    answer = admin.secrets.kv.v2.read_secret_version(
        path=f"{prefix}/acme/int_1", raise_on_deleted_version=True
    )

    assert answer["data"]["data"] == {"access_token": "token", "app_secret": "app"}
    assert answer["data"]["metadata"]["version"] == 2


async def test_a_put_keeps_fields_written_by_someone_else(
    store: VaultCredentialStore, admin: hvac.Client, prefix: str
) -> None:
    await store.put(ref("access_token"), Secret("token"))
    # Another writer (an operator, another replica) adds a field behind the store's back.
    admin.secrets.kv.v2.create_or_update_secret(
        path=f"{prefix}/acme/int_1", secret={"access_token": "token", "added": "elsewhere"}
    )

    await store.put(ref("app_secret"), Secret("app"))

    assert (await store.get(ref("added"))).reveal() == "elsewhere"
    assert (await store.get(ref("access_token"))).reveal() == "token"


async def test_delete_all_removes_every_version_and_the_metadata(
    store: VaultCredentialStore, admin: hvac.Client, prefix: str
) -> None:
    await store.put(ref(), Secret("v1"))
    await store.put(ref(), Secret("v2"))

    await store.delete_all(TenantId("acme"), "int_1")

    with pytest.raises(hvac.exceptions.InvalidPath):
        admin.secrets.kv.v2.read_secret_metadata(path=f"{prefix}/acme/int_1")


async def test_a_soft_deleted_secret_reads_as_absent_and_can_be_written_again(
    store: VaultCredentialStore, admin: hvac.Client, prefix: str
) -> None:
    await store.put(ref(), Secret("v1"))
    admin.secrets.kv.v2.delete_latest_version_of_secret(path=f"{prefix}/acme/int_1")

    with pytest.raises(NotFound):
        await store.get(ref())
    await store.put(ref(), Secret("v2"))

    assert (await store.get(ref())).reveal() == "v2"


async def test_a_value_that_is_not_a_string_is_refused(
    store: VaultCredentialStore, admin: hvac.Client, prefix: str
) -> None:
    admin.secrets.kv.v2.create_or_update_secret(path=f"{prefix}/acme/int_1", secret={"n": 42})

    with pytest.raises(CredentialsUnavailable, match="not a string"):
        await store.get(ref("n"))


async def test_a_value_that_is_not_valid_unicode_is_refused(store: VaultCredentialStore) -> None:
    # JSON would carry the lone surrogate as an escape that Vault stores as U+FFFD.
    with pytest.raises(InvalidInput):
        await store.put(ref(), Secret("abc\ud800"))

    with pytest.raises(NotFound):
        await store.get(ref())


# --------------------------------------------------------------------------- failures


async def test_vault_down_is_credentials_unavailable_without_the_token() -> None:
    token = "s." + secrets.token_urlsafe(24)
    value = "sk_live_" + secrets.token_hex(12)
    store = VaultCredentialStore(url=CLOSED, token=Secret(token), timeout=2)

    errors = []
    for call in (
        store.put(ref(), Secret(value)),
        store.get(ref()),
        store.delete_all(TenantId("acme"), "int_1"),
    ):
        with pytest.raises(CredentialsUnavailable) as caught:
            await call
        errors.append(caught.value)

    for error in errors:
        assert "could not be reached" in error.message
        assert not shows(error, token)
        assert not shows(error, value)
    assert token not in repr(store)


async def test_a_token_vault_refuses_is_credentials_unavailable_without_it(openbao: Any) -> None:
    token = "s." + secrets.token_urlsafe(24)
    store = VaultCredentialStore(url=openbao.url, token=Secret(token))

    with pytest.raises(CredentialsUnavailable, match="permission denied") as caught:
        await store.get(ref())

    assert not shows(caught.value, token)
    assert not shows(caught.value, openbao.token)


async def test_a_missing_mount_is_credentials_unavailable_not_not_found(openbao: Any) -> None:
    store = VaultCredentialStore(url=openbao.url, token=Secret(openbao.token), mount="nowhere")

    for call in (store.get(ref()), store.put(ref(), Secret("v"))):
        with pytest.raises(CredentialsUnavailable, match="no KV v2"):
            await call


async def test_a_sealed_vault_is_unavailable_and_fails_the_probe(
    start_openbao: Callable[[], Any],
) -> None:
    server = start_openbao()
    store = VaultCredentialStore(url=server.url, token=Secret(server.token))
    await store.put(ref(), Secret("before-sealing"))
    hvac.Client(url=server.url, token=server.token).sys.seal()

    with pytest.raises(CredentialsUnavailable, match="sealed") as caught:
        await store.get(ref())
    with pytest.raises(CredentialsUnavailable, match="sealed"):
        await VaultProbe(url=server.url, critical=True).check()

    assert not shows(caught.value, server.token)
    assert not shows(caught.value, "before-sealing")
    store.close()


# --------------------------------------------------------------------------- probe


async def test_the_probe_passes_on_a_live_vault(openbao: Any) -> None:
    probe = VaultProbe(url=openbao.url)

    await probe.check()

    assert (probe.name, probe.critical) == ("vault", False)


async def test_the_probe_is_critical_when_asked() -> None:
    probe = VaultProbe(url=CLOSED, critical=True, name="credential_store")

    assert (probe.name, probe.critical) == ("credential_store", True)


async def test_the_probe_fails_when_vault_cannot_be_reached() -> None:
    with pytest.raises(CredentialsUnavailable, match="could not be reached"):
        await VaultProbe(url=CLOSED, timeout=2).check()
