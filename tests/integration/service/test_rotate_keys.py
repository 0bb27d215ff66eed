"""``rotate-keys`` moves stored credentials to the current key; the old key can then go."""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest

from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import CredentialsUnavailable
from integration_core.ids import TenantId, new_id
from integration_service.cli import main
from integration_service.container import Container, build_services, engine_of, resolve, shutdown
from integration_service.server import migrate_until_done
from integration_service.settings import Settings

OLD = base64.b64encode(b"o" * 32).decode()
NEW = base64.b64encode(b"n" * 32).decode()


async def _with_store(env: dict[str, str], tmp_path: Path, action: str, ref: CredentialRef) -> str:
    container = Container(settings=Settings.from_env(env, cwd=tmp_path))
    try:
        await build_services(container)
        await migrate_until_done(await engine_of(container), await resolve(container.migrations))
        store = await resolve(container.stored_credentials)
        if action == "put":
            await store.put(ref, Secret("s3cr3t-value"))
            return "stored"
        return (await store.get(ref)).reveal()
    finally:
        await shutdown(container)


def test_rotate_keys_moves_every_credential_to_the_current_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    database = f"sqlite:///{tmp_path / 'rotate.db'}"
    ref = CredentialRef(tenant_id=TenantId("acme"), integration_id=new_id("int"), name="token")
    # The CLI runs its own event loop, so this test drives the stores with asyncio.run too.
    asyncio.run(
        _with_store({"DATABASE_URL": database, "ENCRYPTION_KEY": OLD}, tmp_path, "put", ref)
    )

    rotating = {"DATABASE_URL": database, "ENCRYPTION_KEY": NEW, "ENCRYPTION_KEYS_PREVIOUS": OLD}
    for name, value in rotating.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()  # only the command's own output counts below
    assert main(["rotate-keys", "--batch-size", "1"]) == 0
    assert capsys.readouterr().out.strip() == "re-encrypted 1 credential"
    assert main(["rotate-keys"]) == 0
    assert capsys.readouterr().out.strip() == "re-encrypted 0 credentials"

    only_new = {"DATABASE_URL": database, "ENCRYPTION_KEY": NEW}
    assert asyncio.run(_with_store(only_new, tmp_path, "get", ref)) == "s3cr3t-value"
    only_old = {"DATABASE_URL": database, "ENCRYPTION_KEY": OLD}
    with pytest.raises(CredentialsUnavailable):
        asyncio.run(_with_store(only_old, tmp_path, "get", ref))


def test_rotate_keys_refuses_a_zero_batch(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["rotate-keys", "--batch-size", "0"])
    assert exited.value.code == 2
    assert "must be at least 1" in capsys.readouterr().err
