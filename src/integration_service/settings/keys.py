"""The key material in the environment: how each key is decoded, and development's generated keys.

``ENCRYPTION_KEY`` may be written as 64 hex digits, standard or URL-safe base64 (with or without
padding) or 32 raw characters: the encodings have different lengths, so decoding is never
ambiguous. Error messages describe the shape of a bad key, never its value.

Development keys are generated once, kept beside the database and reused on every restart.
Without this a development server would invent a new ``ENCRYPTION_KEY`` at each start and lose
every stored credential, and tokens minted by ``integration-service token`` would stop working.
The file is created with mode 0600 and published atomically (write a temporary file, then
hard-link it into place), so two processes starting together agree on one set of keys. It is
never used in production.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import os
import re
import secrets
from datetime import UTC, datetime
from pathlib import Path

import attrs

from integration_core.credentials import Secret

KEY_BYTES = 32
SIGNING_SECRET_PREFIX = "whsec_"  # noqa: S105 - the Standard Webhooks prefix, not a secret
_HEX = re.compile(r"[0-9a-fA-F]+")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
KEY_FILE_SUFFIX = ".keys.json"
STANDALONE_KEY_FILE = ".integration-service-keys.json"
FILE_MODE = 0o600
NAMES = ("JWT_SECRET", "ENCRYPTION_KEY", "MESSAGING_SIGNING_SECRET")


class InvalidKey(ValueError):
    """The key cannot be decoded; the message never contains the key."""


def decode_key(text: str) -> bytes:
    """Return the 32-byte AES-256 key encoded in *text* (hex, base64, URL-safe base64 or raw)."""
    value = text.strip()
    if len(value) == 2 * KEY_BYTES and _HEX.fullmatch(value):
        return bytes.fromhex(value)
    if len(value) in (43, 44) and _BASE64.fullmatch(value):
        decoded = decode_base64(value)
        if len(decoded) == KEY_BYTES:
            return decoded
    raw = value.encode()
    if len(raw) == KEY_BYTES:
        return raw
    raise InvalidKey(
        f"must be {KEY_BYTES} bytes: 64 hex digits, 44 base64 characters or {KEY_BYTES} raw "
        f"characters (got {len(value)} characters)"
    )


def decode_base64(value: str) -> bytes:
    """Return *value* decoded as standard or URL-safe base64, padding optional."""
    if not _BASE64.fullmatch(value):
        raise InvalidKey("is not base64")
    padded = value + "=" * (-len(value) % 4)
    try:
        return base64.b64decode(padded.replace("-", "+").replace("_", "/"), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidKey("is not base64") from None


def decode_signing_secret(text: str) -> bytes:
    """Return the HMAC key of a Standard Webhooks ``whsec_<base64>`` secret."""
    value = text.strip()
    if not value.startswith(SIGNING_SECRET_PREFIX):
        raise InvalidKey(f"must start with {SIGNING_SECRET_PREFIX!r} followed by base64")
    key = decode_base64(value.removeprefix(SIGNING_SECRET_PREFIX))
    if len(key) < 16:
        raise InvalidKey(f"must hold at least 16 bytes after {SIGNING_SECRET_PREFIX!r}")
    return key


def encode_signing_secret(key: bytes) -> str:
    """Return *key* as a ``whsec_<base64>`` secret, the form Standard Webhooks libraries read."""
    return SIGNING_SECRET_PREFIX + base64.b64encode(key).decode()


class DevKeyFileError(Exception):
    """The development key file exists but cannot be used; the message names the file only."""


@attrs.frozen(kw_only=True)
class DevelopmentKeys:
    """The three generated secrets, by the variable each one stands in for."""

    jwt_secret: Secret
    encryption_key: Secret
    messaging_signing_secret: Secret

    def by_name(self) -> dict[str, Secret]:
        """Return the keys keyed by environment variable name."""
        return {
            "JWT_SECRET": self.jwt_secret,
            "ENCRYPTION_KEY": self.encryption_key,
            "MESSAGING_SIGNING_SECRET": self.messaging_signing_secret,
        }


def key_file_for(sqlite_file: Path | None, cwd: Path) -> Path:
    """Return where the key file lives: beside an SQLite file, else in the working directory."""
    if sqlite_file is not None:
        path = sqlite_file if sqlite_file.is_absolute() else cwd / sqlite_file
        return path.with_name(path.name + KEY_FILE_SUFFIX)
    return cwd / STANDALONE_KEY_FILE


def generate() -> DevelopmentKeys:
    """Return fresh random keys: a 64-character JWT secret, AES-256 and HMAC keys."""
    return DevelopmentKeys(
        jwt_secret=Secret(secrets.token_urlsafe(48)),
        encryption_key=Secret(base64.b64encode(secrets.token_bytes(32)).decode()),
        messaging_signing_secret=Secret(encode_signing_secret(secrets.token_bytes(32))),
    )


def load_or_create(path: Path) -> DevelopmentKeys:
    """Return the keys stored at *path*, creating the file (mode 0600) if it does not exist."""
    try:
        return load(path)
    except FileNotFoundError:
        pass
    keys = generate()
    if _publish(path, keys):
        return keys
    # Another process published its keys first: use those, so both agree.
    return load(path)


def load(path: Path) -> DevelopmentKeys:
    """Return the keys stored at *path*; :class:`FileNotFoundError` if there is no file."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise
    except (OSError, ValueError) as exc:
        raise DevKeyFileError(f"cannot read {path}: {type(exc).__name__}") from None
    if not isinstance(document, dict) or not all(
        isinstance(document.get(name), str) for name in NAMES
    ):
        raise DevKeyFileError(f"{path} does not hold {', '.join(NAMES)}")
    try:
        decode_key(document["ENCRYPTION_KEY"])
        decode_signing_secret(document["MESSAGING_SIGNING_SECRET"])
    except InvalidKey as exc:
        raise DevKeyFileError(f"{path} holds a malformed key ({exc})") from None
    return DevelopmentKeys(
        jwt_secret=Secret(document["JWT_SECRET"]),
        encryption_key=Secret(document["ENCRYPTION_KEY"]),
        messaging_signing_secret=Secret(document["MESSAGING_SIGNING_SECRET"]),
    )


def _publish(path: Path, keys: DevelopmentKeys) -> bool:
    """Write *keys* to *path* unless it exists; return whether this call created it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    document = {
        "_comment": "Development keys of integration-service. Never use them in production.",
        "created_at": datetime.now(UTC).isoformat(),
        **{name: secret.reveal() for name, secret in keys.by_name().items()},
    }
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(document, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            # link() refuses to replace an existing file, unlike rename(): first writer wins.
            os.link(temporary, path)
        except FileExistsError:
            return False
        except OSError:
            # A filesystem without hard links: rename, accepting a narrow race on first start.
            if path.exists():
                return False
            temporary.replace(path)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
