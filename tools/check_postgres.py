"""Fail fast, and say why, when the PostgreSQL that the ``postgres`` tests need does not answer.

The ``tests_postgres`` nox session runs this before pytest: those tests never skip, so a server
that is down must fail the run with a message that tells how to fix it, not with a hundred
connection errors. Reads ``TEST_POSTGRES_URL`` (a ``postgresql://`` URL; a SQLAlchemy
``postgresql+psycopg://`` one is accepted too).
"""

from __future__ import annotations

import os
import re
import sys

import psycopg

TIMEOUT_SECONDS = 5
HINT = (
    "Start PostgreSQL (on a Debian machine: "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`) "
    "or point TEST_POSTGRES_URL at a server that answers. These tests never skip."
)


def redact(url: str) -> str:
    """Return *url* with any password replaced by ``***``."""
    return re.sub(r"(://[^:/@]*):[^@]*@", r"\1:***@", url)


def libpq_url(url: str) -> str:
    """Return *url* without a SQLAlchemy driver suffix (``postgresql+psycopg://``)."""
    return re.sub(r"^postgres(?:ql)?\+\w+://", "postgresql://", url)


def main() -> int:
    """Connect once and run a query; exit 1 with a clear message if that fails."""
    url = os.environ.get("TEST_POSTGRES_URL", "")
    if not url:
        sys.stderr.write(f"TEST_POSTGRES_URL is not set. {HINT}\n")
        return 1
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=TIMEOUT_SECONDS) as conn:
            row = conn.execute("SHOW server_version").fetchone()
    except psycopg.Error as exc:
        sys.stderr.write(f"PostgreSQL at {redact(url)} does not answer: {exc}\n{HINT}\n")
        return 1
    version = row[0] if row else "unknown version"
    sys.stdout.write(f"PostgreSQL {version} answers at {redact(url)}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
