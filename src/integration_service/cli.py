"""The ``integration-service`` command line: serve, migrate, token, replay, rotate-keys/-tokens.

Every command that needs the object graph opens it the one way,
:func:`~integration_service.container.open_container`; one-shot commands log to stderr, so
stdout holds only their result for scripts. Configuration errors are an operator's everyday
mistake, so they get one short message that lists every problem and exit code 2, never a
traceback. Any other failure prints one line and exits 1; ``LOG_LEVEL=debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from adapters_http.auth import SCOPES, issue_token
from integration_core.clock import SystemClock
from integration_core.errors import ConfigurationError
from integration_core.ids import TenantId
from integration_service import __version__
from integration_service.settings import Settings
from integration_service.settings.env import InvalidDuration, parse_duration

if TYPE_CHECKING:
    from integration_core.use_cases.replay import ReplayResult, Selection
    from integration_core.use_cases.token_rotation import RotationReport

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with *argv* (default: ``sys.argv[1:]``); return the exit code."""
    parser = _parser()
    args = parser.parse_args(argv)
    check: Callable[[argparse.Namespace], None] | None = getattr(args, "check", None)
    if check is not None:
        check(args)  # argument rules argparse cannot express; exits 2 like its own errors
    command: Callable[[argparse.Namespace, Settings], int] = args.run
    try:
        settings = Settings.from_env(os.environ)
        return command(args, settings)
    except ConfigurationError as exc:
        _print_configuration_error(exc)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one clear message
        if os.environ.get("LOG_LEVEL", "").strip().lower() == "debug":
            traceback.print_exc()
        print(f"integration-service: error: {type(exc).__name__}: {exc}", file=sys.stderr)  # noqa: T201 - CLI output
        return EXIT_FAILURE


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    # Imported here so that `token` and `--help` do not wait for SQLAlchemy and Alembic.
    from integration_service.roles import Role  # noqa: PLC0415 - see the comment above
    from integration_service.server import serve  # noqa: PLC0415 - see the comment above

    server = settings.server
    if args.host is not None:
        server = attrs.evolve(server, host=args.host)
    if args.port is not None:
        server = attrs.evolve(server, port=args.port)
        if not server.base_url_set:
            server = attrs.evolve(server, base_url=f"http://localhost:{args.port}")
    asyncio.run(serve(attrs.evolve(settings, server=server), Role(args.role)))
    return EXIT_OK


def _migrate(_args: argparse.Namespace, settings: Settings) -> int:
    revision = asyncio.run(_migrate_once(settings))
    print(revision or "(no revision)")  # noqa: T201 - the command's output
    return EXIT_OK


async def _migrate_once(settings: Settings) -> str | None:
    """Upgrade the database to the newest revision and return the revision it is at."""
    from adapters_db.migrate import current_revision, migrate  # noqa: PLC0415 - as in _serve
    from integration_service.container import engine_of, open_container  # noqa: PLC0415 - as in _serve

    _log_to_stderr(settings)  # Alembic's progress too
    async with open_container(settings) as container:
        engine = await engine_of(container)
        await migrate(engine)
        return await current_revision(engine)


def _token(args: argparse.Namespace, settings: Settings) -> int:
    scopes = args.scope.split() if args.scope is not None else sorted(SCOPES)
    unknown = sorted(set(scopes) - SCOPES)
    if unknown:
        raise ConfigurationError(
            problems=(f"--scope: unknown {', '.join(unknown)} (known: {' '.join(sorted(SCOPES))})",)
        )
    expires_in: timedelta = args.expires or settings.security.jwt_expiry
    token = issue_token(
        secret=settings.security.jwt_secret,
        tenant_id=args.tenant,
        scopes=scopes,
        expires_in=expires_in,
        now=SystemClock().now(),
        subject=args.subject,
    )
    if settings.dev_keys is not None and "JWT_SECRET" in settings.dev_keys.names:
        print(  # noqa: T201 - a note for the operator, kept off stdout
            f"note: signed with the development JWT_SECRET from {settings.dev_keys.path}",
            file=sys.stderr,
        )
    print(token)  # noqa: T201 - the command's output
    return EXIT_OK


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    from integration_core.use_cases.replay import Selection  # noqa: PLC0415 - as in _serve

    selection = Selection(
        tenant_id=None if args.tenant is None else TenantId(args.tenant),
        event_id=args.event,
        dead=args.dead,
        since=args.since,
        until=args.until,
        renormalize=args.renormalize,
    )
    result = asyncio.run(_replay_once(settings, selection))
    notes = []
    if result.skipped:
        notes.append(f"skipped {result.skipped} already pending or ignored event(s)")
    if result.renormalized is not None:
        kept = result.requeued - result.renormalized
        notes.append(
            f"renormalized {result.renormalized}; {kept} kept their stored data "
            "(no raw delivery, or no matching item in it)"
        )
    for note in notes:
        print(f"note: {note}", file=sys.stderr)  # noqa: T201 - for the operator, off stdout
    print(result.summary())  # noqa: T201 - the command's output
    return EXIT_OK


async def _replay_once(settings: Settings, selection: Selection) -> ReplayResult:
    """Replay *selection* with the core's use case (the API's route uses it too); never migrate."""
    from integration_service.container import open_container, resolve  # noqa: PLC0415 - as in _serve

    _log_to_stderr(settings)
    async with open_container(settings) as container:
        replay = await resolve(container.replay_events)
        return await replay(selection)


def _rotate_keys(args: argparse.Namespace, settings: Settings) -> int:
    moved = asyncio.run(_reencrypt(settings, batch_size=args.batch_size))
    if moved is None:
        print("CREDENTIAL_STORE=vault: Vault encrypts with its own keys; nothing to do")  # noqa: T201 - the command's output
    else:
        print(f"re-encrypted {moved} credential{'' if moved == 1 else 's'}")  # noqa: T201 - the command's output
    return EXIT_OK


async def _reencrypt(settings: Settings, *, batch_size: int) -> int | None:
    """Re-encrypt every credential not under the current key; ``None`` when Vault keeps them.

    Rotation is: set the new ``ENCRYPTION_KEY``, move the old one to
    ``ENCRYPTION_KEYS_PREVIOUS``, restart, run this; once it reports nothing left, the old key
    can go. It works in batches of separate transactions, so it is safe to interrupt and run
    again, alongside running services.
    """
    from adapters_db.credentials import SqlCredentialStore  # noqa: PLC0415 - as in _serve
    from integration_service.container import open_container, resolve  # noqa: PLC0415 - as in _serve

    _log_to_stderr(settings)
    async with open_container(settings) as container:
        store = await resolve(container.stored_credentials)
        if not isinstance(store, SqlCredentialStore):
            return None  # Vault encrypts with keys of its own
        return await store.reencrypt(batch_size=batch_size)


def _rotate_tokens(_args: argparse.Namespace, settings: Settings) -> int:
    from integration_service.loops import summary  # noqa: PLC0415 - as in _serve

    report = asyncio.run(_rotate_tokens_once(settings))
    print(summary(report))  # noqa: T201 - the command's output
    # A token the platform refused is the tenant's to fix (the messaging service hears of it);
    # a refresh or probe that failed on the way is ours to look into: exit 1 for those.
    return EXIT_FAILURE if report.failed else EXIT_OK


async def _rotate_tokens_once(settings: Settings) -> RotationReport:
    """Run one rotation pass, as the scheduler of ``serve`` does, logging each result."""
    from integration_service.container import open_container, resolve  # noqa: PLC0415 - as in _serve
    from integration_service.loops import log_report  # noqa: PLC0415 - as in _serve

    _log_to_stderr(settings)
    async with open_container(settings) as container:
        rotate = await resolve(container.rotate_tokens)
        report = await rotate.run_once()
        log_report(report)
        return report


def _log_to_stderr(settings: Settings) -> None:
    """Send logs to stderr: stdout holds only the command's result, for scripts."""
    from adapters_observability.logging import configure_logging  # noqa: PLC0415 - as in _serve

    configure_logging(settings.log_level, stream="stderr")


def _check_replay(args: argparse.Namespace) -> None:
    parser: argparse.ArgumentParser = args.parser
    if args.tenant is None and args.event:
        # Event ids are looked up within their tenant, as the events API does.
        parser.error("--event needs --tenant")
    if args.until is not None and args.since is None:
        parser.error("--until goes with --since")
    if args.since is not None and args.until is not None and args.since >= args.until:
        parser.error("--since must be earlier than --until")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="integration-service",
        description="Connect tenants to messaging and payment platforms. "
        "Configured through environment variables (see the documentation).",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the HTTP service (migrates first)")
    serve.add_argument("--host", help="bind address (overrides HOST)")
    serve.add_argument("--port", type=_port, help="TCP port (overrides PORT)")
    serve.add_argument(
        "--role",
        choices=("api", "worker", "all"),
        default="all",
        help="api: HTTP only; worker: forwarding and token rotation only (serves health "
        "and metrics); all: both (default)",
    )
    serve.set_defaults(run=_serve)

    migrate = commands.add_parser("migrate", help="apply database migrations, print the revision")
    migrate.set_defaults(run=_migrate)

    token = commands.add_parser("token", help="print a management API token (JWT)")
    token.add_argument("--tenant", required=True, type=_non_empty, help="tenant_id claim")
    token.add_argument(
        "--scope",
        help='space-separated scopes, e.g. "integrations:read events:read" (default: all six)',
    )
    token.add_argument(
        "--expires", type=_duration, help="lifetime such as 1h, 30d (default: JWT_EXPIRY)"
    )
    token.add_argument("--subject", help="sub claim: who the token is for")
    token.set_defaults(run=_token)

    replay = commands.add_parser(
        "replay",
        help="queue stored events for delivery again, same ids",
        description="Queue stored events for delivery again under their own ids; "
        "the workers send them. --dead and --since cover every tenant unless --tenant "
        "is given. Prints how many were queued (and, for every tenant, across how many).",
    )
    which = replay.add_mutually_exclusive_group(required=True)
    which.add_argument("--event", metavar="ID", type=_non_empty, help="one event, by id")
    which.add_argument("--dead", action="store_true", help="every dead-lettered event")
    which.add_argument(
        "--since",
        type=_timestamp,
        metavar="TIME",
        help="events received at or after TIME (RFC 3339, e.g. 2026-11-01T00:00:00Z); "
        "already pending and ignored ones are skipped",
    )
    replay.add_argument("--until", type=_timestamp, metavar="TIME", help="and before TIME")
    replay.add_argument(
        "--tenant",
        type=_non_empty,
        help="the tenant whose events to replay (required with --event; default: every tenant)",
    )
    replay.add_argument(
        "--renormalize",
        action="store_true",
        help="rebuild each payload with the current normalizer from the stored raw delivery",
    )
    replay.set_defaults(run=_replay, check=_check_replay, parser=replay)

    rotate = commands.add_parser(
        "rotate-keys",
        help="re-encrypt stored credentials under the current ENCRYPTION_KEY",
        description="Re-encrypt every stored credential still under a key of "
        "ENCRYPTION_KEYS_PREVIOUS, in batches; safe to interrupt and run again.",
    )
    rotate.add_argument("--batch-size", type=_positive, default=100, help="rows per transaction")
    rotate.set_defaults(run=_rotate_keys)

    tokens = commands.add_parser(
        "rotate-tokens",
        help="refresh expiring platform tokens and probe the others, once",
        description="Run one token rotation pass, as the scheduler of `serve` does: refresh "
        "tokens expiring within TOKEN_REFRESH_MARGIN, probe tokens that never expire, mark "
        "expired integrations, and queue the integration.* events. Prints a summary; exits 1 "
        "if a refresh or probe failed on the way (the platform was down, say).",
    )
    tokens.set_defaults(run=_rotate_tokens)
    return parser


def _print_configuration_error(error: ConfigurationError) -> None:
    lines = ["invalid configuration:"]
    lines.extend(f"- {problem}" for problem in error.problems or (error.message,))
    print("\n".join(lines), file=sys.stderr)  # noqa: T201 - CLI output


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port number") from None
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is not between 1 and 65535")
    return port


def _positive(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


def _duration(text: str) -> timedelta:
    try:
        duration = parse_duration(text)
    except InvalidDuration as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not duration:
        raise argparse.ArgumentTypeError("must be longer than 0s")
    return duration


def _non_empty(text: str) -> str:
    if not text.strip():
        raise argparse.ArgumentTypeError("must not be empty")
    return text.strip()


def _timestamp(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an RFC 3339 time such as 2026-11-01T00:00:00Z"
        ) from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"{text!r} has no time zone (add Z for UTC)")
    return moment.astimezone(UTC)
