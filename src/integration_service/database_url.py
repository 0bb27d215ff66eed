"""Turn ``DATABASE_URL`` or the original service's ``DB_*`` variables into one SQLAlchemy URL.

Operators paste libpq URLs (``postgres://``, ``postgresql://``) and plain ``sqlite:///`` ones;
they are rewritten to the async drivers we ship (psycopg 3, aiosqlite) so the same value works
for ``psql`` and for the service.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote, unquote, urlsplit

DEFAULT_SQLITE_FILE = "integration-service.db"
SSL_MODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
POSTGRES_SCHEME = "postgresql+psycopg"
SQLITE_SCHEME = "sqlite+aiosqlite"
_ALIASES = {
    "postgres": POSTGRES_SCHEME,
    "postgresql": POSTGRES_SCHEME,
    "postgresql+psycopg": POSTGRES_SCHEME,
    "postgresql+psycopg3": POSTGRES_SCHEME,
    "sqlite": SQLITE_SCHEME,
    "sqlite+aiosqlite": SQLITE_SCHEME,
}


class InvalidDatabaseUrl(ValueError):
    """The URL names no database we support; the message never repeats the URL."""


def normalize_url(url: str) -> str:
    """Return *url* with its scheme rewritten to the async driver we ship."""
    scheme, separator, rest = url.strip().partition("://")
    if not separator:
        raise InvalidDatabaseUrl("must be a URL such as postgresql://user:pass@host/db")
    try:
        return f"{_ALIASES[scheme.lower()]}://{rest}"
    except KeyError:
        raise InvalidDatabaseUrl(
            f"unsupported scheme {scheme!r} (use postgresql:// or sqlite:///)"
        ) from None


def postgres_url(
    *, host: str, port: int, name: str, user: str, password: str | None, ssl_mode: str
) -> str:
    """Build a psycopg URL from parts, quoting each so any character is safe in a password."""
    credentials = quote(user, safe="")
    if password:
        credentials += ":" + quote(password, safe="")
    netloc_host = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return (
        f"{POSTGRES_SCHEME}://{credentials}@{netloc_host}:{port}/{quote(name, safe='')}"
        f"?sslmode={quote(ssl_mode, safe='')}"
    )


def sqlite_url(path: Path) -> str:
    """Return the aiosqlite URL of the database file at *path* (made absolute)."""
    return f"{SQLITE_SCHEME}:///{path.resolve()}"


def sqlite_path(url: str) -> Path | None:
    """Return the file of an SQLite *url*, or ``None`` for another database or ``:memory:``."""
    scheme, _, rest = url.partition("://")
    if scheme != SQLITE_SCHEME:
        return None
    database = unquote(rest.removeprefix("/").partition("?")[0])
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def hide_password(url: str) -> str:
    """Return *url* with its password replaced by ``***``, safe for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    userinfo, _, hostinfo = parts.netloc.rpartition("@")
    user = userinfo.partition(":")[0]
    return parts._replace(netloc=f"{user}:***@{hostinfo}").geturl()
