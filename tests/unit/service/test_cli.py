"""The command line in process: argument handling and error reporting (no server started)."""

from __future__ import annotations

import json
from pathlib import Path

import jwt
import pytest

from integration_service import __version__
from integration_service.cli import main


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every command in an empty directory with none of the service's variables set."""
    monkeypatch.chdir(tmp_path)
    for name in ("ENVIRONMENT", "JWT_SECRET", "ENCRYPTION_KEY", "DATABASE_URL", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


def test_token_in_development_uses_the_key_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "--tenant", "acme", "--scope", "payments:read", "--expires", "1h"]) == 0

    out, err = capsys.readouterr()
    secret = json.loads((tmp_path / "integration-service.db.keys.json").read_text())["JWT_SECRET"]
    claims = jwt.decode(out.strip(), secret.encode(), algorithms=["HS256"])
    assert (claims["tenant_id"], claims["scope"]) == ("acme", "payments:read")
    assert claims["exp"] - claims["iat"] == 3600
    assert "development JWT_SECRET" in err


def test_configuration_errors_are_listed_with_exit_code_2(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("PORT", "0")

    assert main(["token", "--tenant", "acme"]) == 2

    assert capsys.readouterr().err.splitlines() == [
        "invalid configuration:",
        "- PORT: must be at least 1",
        "- JWT_SECRET: required when ENVIRONMENT=production (never generated)",
        "- ENCRYPTION_KEY: required when ENVIRONMENT=production (never generated)",
    ]


@pytest.mark.parametrize(
    "argv",
    [
        [],
        ["replay"],
        ["token"],
        ["token", "--tenant", " "],
        ["token", "--tenant", "t", "--expires", "0s"],
        ["token", "--tenant", "t", "--expires", "soon"],
        ["serve", "--port", "70000"],
        ["serve", "--port", "http"],
    ],
)
def test_bad_arguments_exit_with_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert "usage: integration-service" in capsys.readouterr().err


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--version"])

    assert capsys.readouterr().out.strip() == f"integration-service {__version__}"
