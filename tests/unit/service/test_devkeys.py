"""Development keys: generated once with mode 0600, reused on restart, never half-written."""

from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from integration_service.settings import keys as devkeys
from integration_service.settings.keys import decode_key, decode_signing_secret


def test_keys_are_generated_once_with_mode_0600_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "app.db.keys.json"

    first = devkeys.load_or_create(path)
    second = devkeys.load_or_create(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first == second
    assert len(decode_key(first.encryption_key.reveal())) == 32
    assert first.messaging_signing_secret.reveal().startswith("whsec_")
    assert len(decode_signing_secret(first.messaging_signing_secret.reveal())) == 32
    assert len(first.jwt_secret.reveal()) >= 32
    document = json.loads(path.read_text())
    assert document["JWT_SECRET"] == first.jwt_secret.reveal()
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")], "no temporary left"


def test_every_generation_is_different(tmp_path: Path) -> None:
    one = devkeys.load_or_create(tmp_path / "a.json")
    two = devkeys.load_or_create(tmp_path / "b.json")

    assert one.jwt_secret != two.jwt_secret
    assert one.encryption_key != two.encryption_key


def test_concurrent_starts_agree_on_one_set_of_keys(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    results: list[devkeys.DevelopmentKeys] = []
    barrier = threading.Barrier(8)

    def start() -> None:
        barrier.wait()
        results.append(devkeys.load_or_create(path))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({key.jwt_secret.reveal() for key in results}) == 1


def test_the_file_sits_beside_the_sqlite_database_or_in_the_working_directory(
    tmp_path: Path,
) -> None:
    assert devkeys.key_file_for(tmp_path / "x.db", tmp_path) == tmp_path / "x.db.keys.json"
    assert devkeys.key_file_for(Path("rel/x.db"), tmp_path) == tmp_path / "rel/x.db.keys.json"
    assert devkeys.key_file_for(None, tmp_path) == tmp_path / ".integration-service-keys.json"


def test_the_parent_directory_is_created(tmp_path: Path) -> None:
    path = tmp_path / "data" / "deep" / "keys.json"

    devkeys.load_or_create(path)

    assert path.exists()


@pytest.mark.parametrize(
    "content",
    [
        "not json",
        "[]",
        '{"JWT_SECRET": "x"}',
        '{"JWT_SECRET": "x", "ENCRYPTION_KEY": "short", "MESSAGING_SIGNING_SECRET": "whsec_AA"}',
    ],
)
def test_a_damaged_file_is_an_error_that_never_shows_its_content(
    tmp_path: Path, content: str
) -> None:
    path = tmp_path / "keys.json"
    path.write_text(content)

    with pytest.raises(devkeys.DevKeyFileError) as caught:
        devkeys.load_or_create(path)

    assert str(path) in str(caught.value)
    assert "whsec_AA" not in str(caught.value)
    assert path.read_text() == content, "a damaged file is never overwritten"
