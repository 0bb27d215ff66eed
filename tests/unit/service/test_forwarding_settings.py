"""The forwarding settings, the replay command's arguments and the small pieces workers use."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import pytest

from integration_core.channels import Channel
from integration_core.credentials import Secret
from integration_core.errors import ConfigurationError
from integration_service.cli import main
from integration_service.loops import Wakeup
from integration_service.settings import Settings


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run every command in an empty directory, so nothing lands in the checkout."""
    monkeypatch.chdir(tmp_path)
    for name in ("ENVIRONMENT", "JWT_SECRET", "ENCRYPTION_KEY", "DATABASE_URL", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


def load(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(env, cwd=tmp_path)


def test_forwarding_defaults(tmp_path: Path) -> None:
    messaging = load(tmp_path).messaging

    assert (messaging.workers, messaging.batch_size) == (2, 100)
    assert messaging.split_workers is None, "decided per process"
    assert messaging.for_process(serves_api=False).split_workers == 4
    assert messaging.for_process(serves_api=True).split_workers == 1, "acknowledgements first"
    assert messaging.poll_interval == timedelta(milliseconds=500)
    assert messaging.lease == timedelta(minutes=2)
    assert messaging.lease > messaging.slowest_batch, "the defaults never send an event twice"


def test_forwarding_variables_are_parsed(tmp_path: Path) -> None:
    messaging = load(
        tmp_path,
        FORWARD_WORKERS="4",
        SPLIT_WORKERS="3",
        FORWARD_BATCH_SIZE="20",
        FORWARD_POLL_INTERVAL="250ms",
        FORWARD_LEASE="90s",
    ).messaging

    assert (messaging.workers, messaging.split_workers, messaging.batch_size) == (4, 3, 20)
    assert messaging.for_process(serves_api=True).split_workers == 3, "set: in every process"
    assert messaging.poll_interval == timedelta(milliseconds=250)
    assert messaging.lease == timedelta(seconds=90)
    assert messaging.slowest_batch == timedelta(seconds=30), "20 at 16 at a time, 15 s each"


def test_bad_forwarding_variables_are_all_reported(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError) as caught:
        load(
            tmp_path,
            FORWARD_WORKERS="0",
            SPLIT_WORKERS="65",
            FORWARD_BATCH_SIZE="5000",
            FORWARD_POLL_INTERVAL="0s",
            FORWARD_LEASE="soon",
        )

    assert [p.split(":")[0] for p in caught.value.problems] == [
        "FORWARD_WORKERS",
        "SPLIT_WORKERS",
        "FORWARD_BATCH_SIZE",
        "FORWARD_POLL_INTERVAL",
        "FORWARD_LEASE",
    ]


def test_a_lease_shorter_than_a_slow_batch_is_warned_about(tmp_path: Path) -> None:
    settings = load(tmp_path, MESSAGING_SERVICE_URL="http://messaging", FORWARD_LEASE="30s")

    (warning,) = [w for w in settings.warnings() if w.startswith("FORWARD_LEASE")]
    assert "1m45s" in warning
    assert not [w for w in load(tmp_path).warnings() if w.startswith("FORWARD_LEASE")]


def test_platform_secrets_and_verify_tokens_per_channel(tmp_path: Path) -> None:
    platforms = load(
        tmp_path,
        WHATSAPP_WEBHOOK_SECRET="new,old",
        MESSENGER_VERIFY_TOKEN="vt",
        TELEGRAM_VERIFY_TOKEN="ignored: not a Meta channel",
    ).platforms

    assert platforms.webhook_secrets[Channel.WHATSAPP] == (Secret("new"), Secret("old"))
    assert platforms.webhook_secrets[Channel.TAWKTO] == ()
    assert Channel.MERCADOPAGO not in platforms.webhook_secrets
    assert platforms.verify_tokens == {Channel.MESSENGER: (Secret("vt"),)}


# --------------------------------------------------------------------------- replay arguments


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["replay", "--event", "evt_1"], "--event needs --tenant"),
        (["replay", "--dead", "--until", "2026-11-01T00:00:00Z", "--tenant", "t"], "--until goes"),
        (
            ["replay", "--tenant", "t", "--since", "2026-11-02T00:00:00Z", "--until", "2026-11-1"],
            "not an RFC 3339 time",
        ),
        (
            ["replay", "--tenant", "t", "--since", "2026-11-02T00:00:00Z", "--until", "2026-11-01"],
            "has no time zone",
        ),
        (["replay", "--tenant", "t", "--since", "yesterday"], "not an RFC 3339 time"),
        (["replay", "--tenant", "t", "--dead", "--event", "evt_1"], "not allowed with"),
        (["replay", "--tenant", "t"], "one of the arguments"),
        (["serve", "--role", "both"], "invalid choice"),
    ],
)
def test_bad_replay_arguments_exit_with_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)

    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_since_must_come_before_until(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["replay", "--tenant", "t", "--since", "2026-11-02T00:00:00Z"]
    with pytest.raises(SystemExit):
        main([*argv, "--until", "2026-11-01T21:00:00-03:00"])  # the same instant as --since

    assert "--since must be earlier than --until" in capsys.readouterr().err


# --------------------------------------------------------------------------- small pieces


async def test_a_wakeup_rings_once_and_closes_for_good() -> None:
    wakeup = Wakeup()

    assert not await wakeup.wait(0.01), "nobody rang"
    wakeup.ring()
    assert await wakeup.wait(1)
    assert not await wakeup.wait(0.01), "a ring is used up by the wait that saw it"
    wakeup.close()
    assert await asyncio.wait_for(wakeup.wait(30), 1)
    assert await asyncio.wait_for(wakeup.wait(30), 1), "closed: never waits again"
