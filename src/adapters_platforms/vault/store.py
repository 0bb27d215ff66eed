"""Keep integration secrets in Vault's (or OpenBao's) KV v2 secrets engine.

Layout: one KV secret per integration, at ``<mount>/data/<prefix>/<tenant>/<integration>``,
whose keys are the integration's field names. One secret per integration keeps an
integration's fields together (one read gets them, one call deletes them with their history)
at the cost of a read-modify-write for each :meth:`~VaultCredentialStore.put`; that write uses
KV's check-and-set (``cas``), so two fields written at once both survive: the loser of a race
reads again and retries. It also works on mounts configured with ``cas_required``.

hvac is synchronous, so every call runs in a worker thread (:func:`asyncio.to_thread`), each
thread with its own client (a ``requests`` session is not meant to be shared across threads).
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import random
import re
import threading
import time
from typing import Any

import hvac
import hvac.exceptions

from adapters_platforms.vault.errors import vault_errors
from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import (
    ConfigurationError,
    CredentialsUnavailable,
    InvalidInput,
    NotFound,
)
from integration_core.ids import TenantId

DEFAULT_TIMEOUT_SECONDS = 10.0

# A path segment used as is: no "/", no "." or ".." (the first character is never a dot), and
# nothing a URL would need to escape. Anything else is encoded (see path_segment).
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._-]{0,127}")
# Never matched by _SAFE_SEGMENT, so an encoded segment cannot equal a plain one.
_ENCODED_MARK = "~"

# Check-and-set retries: every round at least one writer wins, and the jittered, growing
# pause spreads the rest out.
_CAS_ATTEMPTS = 16
_CAS_PAUSE_SECONDS = 0.005
_CAS_MAX_PAUSE_SECONDS = 0.25
_CAS_MISMATCH = "check-and-set"


def path_segment(value: str) -> str:
    """Return *value* as one KV path segment that cannot climb or split the path.

    Ids made of letters, digits, ``_``, ``-`` and inner dots (up to 128 characters) are kept as
    they are, so the paths stay readable in Vault's UI. Anything else (``/``, ``..``, spaces,
    non-ASCII, the empty string) becomes ``~`` followed by its URL-safe base64, unpadded.
    The mapping is one-to-one: two ids never share a segment.
    """
    if _SAFE_SEGMENT.fullmatch(value):
        return value
    encoded = base64.urlsafe_b64encode(value.encode("utf-8", "surrogatepass")).decode("ascii")
    return _ENCODED_MARK + encoded.rstrip("=")


class VaultCredentialStore:
    """Keep secrets in Vault KV v2 at *url*, authenticated by *token*.

    *mount* is the KV v2 engine's mount path; *prefix* the folder of this service's secrets
    inside it (``/``-separated, each part a plain segment). Every failure to reach or use
    Vault (transport error, 5xx, sealed, permission denied, no such mount) raises
    :class:`CredentialsUnavailable`, whose message never holds the token.
    """

    def __init__(
        self,
        *,
        url: str,
        token: Secret,
        mount: str = "secret",
        prefix: str = "integration-service",
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
    ) -> None:
        self._url = url
        self._token = token
        self._mount = _folder(mount, "the Vault KV mount")
        self._prefix = _folder(prefix, "the Vault KV prefix")
        if not self._mount:
            raise ConfigurationError("the Vault KV mount must not be empty")
        self._timeout = timeout
        self._local = threading.local()
        self._clients: list[Any] = []
        self._clients_lock = threading.Lock()

    def path(self, tenant_id: TenantId, integration_id: str) -> str:
        """Return the KV path (inside the mount) that holds the integration's secrets."""
        segments = (path_segment(tenant_id), path_segment(integration_id))
        return "/".join((self._prefix, *segments) if self._prefix else segments)

    async def put(self, ref: CredentialRef, secret: Secret) -> None:
        """Write one field of the integration's KV secret, keeping the others (``cas``).

        See :meth:`CredentialStore.put`. A value that is not valid Unicode (a lone surrogate)
        raises :class:`InvalidInput`: Vault would silently store a replacement character instead.
        """
        try:
            secret.reveal().encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(f"credential {ref.name} is not valid Unicode text") from None
        await asyncio.to_thread(self._put, ref, secret)

    async def get(self, ref: CredentialRef) -> Secret:
        """Read one field of the integration's KV secret; see :meth:`CredentialStore.get`."""
        return await asyncio.to_thread(self._get, ref)

    async def delete_all(self, tenant_id: TenantId, integration_id: str) -> None:
        """Delete the integration's KV secret with all its versions and metadata.

        See :meth:`CredentialStore.delete_all`.
        """
        await asyncio.to_thread(self._delete_all, tenant_id, integration_id)

    def close(self) -> None:
        """Close every client's connections (the store can still be used: they reopen)."""
        with self._clients_lock:
            clients, self._clients = self._clients, []
            self._local = threading.local()
        for client in clients:
            client.adapter.close()

    def __repr__(self) -> str:
        return (
            f"VaultCredentialStore(url={self._url!r}, mount={self._mount!r}, "
            f"prefix={self._prefix!r})"
        )

    # ----------------------------------------------------------------- in a worker thread

    def _put(self, ref: CredentialRef, secret: Secret) -> None:
        path = self.path(ref.tenant_id, ref.integration_id)
        value = secret.reveal()
        with vault_errors("storing a credential"):
            for attempt in range(_CAS_ATTEMPTS):
                fields, version = self._read(path)
                current = fields.get(ref.name)
                if isinstance(current, str) and hmac.compare_digest(
                    current.encode(), value.encode()
                ):
                    return  # already stored: no new version
                try:
                    self._kv().create_or_update_secret(
                        path=path,
                        secret={**fields, ref.name: value},
                        cas=version,
                        mount_point=self._mount,
                    )
                except hvac.exceptions.InvalidRequest as exc:
                    if _CAS_MISMATCH not in " ".join(exc.errors or ()):
                        raise
                    # Another writer changed the secret since we read it: read it again.
                    pause = min(_CAS_MAX_PAUSE_SECONDS, _CAS_PAUSE_SECONDS * 2**attempt)
                    time.sleep(random.uniform(0, pause))  # noqa: S311 - jitter, not crypto
                else:
                    return
        raise CredentialsUnavailable(
            f"credential {ref.name} of {ref.integration_id} could not be stored: its Vault "
            f"secret kept changing ({_CAS_ATTEMPTS} attempts)"
        )

    def _get(self, ref: CredentialRef) -> Secret:
        path = self.path(ref.tenant_id, ref.integration_id)
        with vault_errors("reading a credential"):
            fields, _version = self._read(path)
        value = fields.get(ref.name)
        if value is None:
            raise NotFound(f"credential {ref.name} of {ref.integration_id} was not found")
        if not isinstance(value, str):
            raise CredentialsUnavailable(
                f"credential {ref.name} of {ref.integration_id} in Vault is not a string"
            )
        return Secret(value)

    def _delete_all(self, tenant_id: TenantId, integration_id: str) -> None:
        path = self.path(tenant_id, integration_id)
        with vault_errors("deleting credentials"):
            self._kv().delete_metadata_and_all_versions(path=path, mount_point=self._mount)

    def _read(self, path: str) -> tuple[dict[str, Any], int]:
        """Return the secret's fields and version; ``({}, 0)`` if it was never written.

        A deleted or destroyed latest version reads as no fields at that version, which is
        the version a check-and-set write must name.
        """
        try:
            answer = self._kv().read_secret_version(
                path=path, mount_point=self._mount, raise_on_deleted_version=False
            )
        except hvac.exceptions.InvalidPath as exc:
            if exc.errors:  # "no handler for route": the mount is missing, not the secret
                raise
            return {}, 0
        data = answer["data"]
        return dict(data.get("data") or {}), int(data["metadata"]["version"])

    def _kv(self) -> Any:
        client = getattr(self._local, "client", None)
        if client is None:
            client = hvac.Client(url=self._url, token=self._token.reveal(), timeout=self._timeout)
            with self._clients_lock:
                self._clients.append(client)
            self._local.client = client
        return client.secrets.kv.v2


def _folder(value: str, what: str) -> str:
    parts = [part for part in value.strip("/").split("/") if part]
    for part in parts:
        if not _SAFE_SEGMENT.fullmatch(part):
            raise ConfigurationError(
                f"{what} must be '/'-separated names of letters, digits, '.', '_' and '-'"
            )
    return "/".join(parts)
