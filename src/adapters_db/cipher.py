"""Encrypt credentials with AES-256-GCM, bound to the row and field they belong to.

Each secret is sealed on its own: a fresh random 96-bit nonce, the UTF-8 text as plaintext, and
as associated data the tenant id, integration id and field name (each length-prefixed, so no two
different refs produce the same bytes). A ciphertext copied to another row or field therefore
fails authentication instead of decrypting there. Every sealed value records the id of the key
that sealed it (:func:`key_id`), so any number of previous keys can still be read while new
values are always sealed under the current one.
"""

from __future__ import annotations

import hashlib
import os
import struct
from collections.abc import Sequence

import attrs
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from integration_core.credentials import CredentialRef, Secret
from integration_core.errors import ConfigurationError, CredentialsUnavailable

KEY_BYTES = 32
NONCE_BYTES = 12

# Domain-separates key ids from any other SHA-256 of the same key material, and versions the
# associated data so a future format can never be mistaken for this one.
_KEY_ID_LABEL = b"integration-service/credential-key/v1\x00"
_AAD_LABEL = b"integration-service/credential/v1\x00"
# Python strings may hold lone surrogates; "surrogatepass" keeps encryption total over str.
_TEXT_ERRORS = "surrogatepass"


class UnknownEncryptionKey(CredentialsUnavailable):
    """A stored credential was encrypted under a key that is not configured."""


class CredentialUndecryptable(CredentialsUnavailable):
    """A stored credential does not decrypt: it was altered or belongs to another row."""


@attrs.frozen(kw_only=True)
class Sealed:
    """One encrypted secret as stored: key id, nonce and ciphertext (with the GCM tag)."""

    key_id: str
    nonce: bytes = attrs.field(repr=False)
    ciphertext: bytes = attrs.field(repr=False)


def key_id(key: bytes) -> str:
    """Return the public id of *key*: 16 hex digits of a labelled SHA-256 of it.

    Safe to log and store: it identifies a key without revealing anything usable about it.
    """
    return hashlib.sha256(_KEY_ID_LABEL + key).digest()[:8].hex()


def associated_data(ref: CredentialRef) -> bytes:
    """Return the bytes that bind a ciphertext to *ref* (tenant, integration, field).

    Each part is its UTF-8 length (4 bytes, big-endian) followed by its bytes, so the encoding
    is unambiguous: ``("a/b", "c")`` and ``("a", "b/c")`` never collide.
    """
    parts = (ref.tenant_id, ref.integration_id, ref.name)
    encoded = (part.encode("utf-8", _TEXT_ERRORS) for part in parts)
    return _AAD_LABEL + b"".join(struct.pack(">I", len(part)) + part for part in encoded)


class CredentialCipher:
    """Seal secrets under the current key; open them under any configured key.

    *keys* are 32-byte AES keys, the current one first, then previous ones still accepted for
    decryption (key rotation). Raises :class:`ConfigurationError` (never echoing a key) for no
    key, a key of the wrong length, or two different keys with the same id.
    """

    def __init__(self, *, keys: Sequence[bytes]) -> None:
        if not keys:
            raise ConfigurationError("no credential encryption key is configured")
        self._aeads: dict[str, AESGCM] = {}
        self._digests: dict[str, bytes] = {}
        for position, key in enumerate(keys):
            if len(key) != KEY_BYTES:
                raise ConfigurationError(
                    f"credential encryption key #{position + 1} must be exactly {KEY_BYTES} bytes"
                )
            ident = key_id(key)
            digest = hashlib.sha256(key).digest()
            if ident in self._digests:
                if self._digests[ident] != digest:
                    raise ConfigurationError(f"two encryption keys share the key id {ident}")
                continue  # the same key listed twice (say, current and previous) is harmless
            self._digests[ident] = digest
            self._aeads[ident] = AESGCM(key)
        self._current = key_id(keys[0])

    @property
    def current_key_id(self) -> str:
        """Return the id of the key new values are sealed under."""
        return self._current

    @property
    def key_ids(self) -> tuple[str, ...]:
        """Return the ids of every configured key, the current one first."""
        return tuple(self._aeads)

    @property
    def previous_key_ids(self) -> tuple[str, ...]:
        """Return the ids of the keys that only decrypt (rotation moves values off them)."""
        return tuple(ident for ident in self._aeads if ident != self._current)

    def encrypt(self, ref: CredentialRef, secret: Secret) -> Sealed:
        """Seal *secret* for *ref* under the current key with a fresh random nonce."""
        nonce = os.urandom(NONCE_BYTES)
        plaintext = secret.reveal().encode("utf-8", _TEXT_ERRORS)
        ciphertext = self._aeads[self._current].encrypt(nonce, plaintext, associated_data(ref))
        return Sealed(key_id=self._current, nonce=nonce, ciphertext=ciphertext)

    def decrypt(self, ref: CredentialRef, sealed: Sealed) -> Secret:
        """Open *sealed*, which must have been sealed for *ref*.

        Raises :class:`UnknownEncryptionKey` (naming the key id) if its key is not configured,
        and :class:`CredentialUndecryptable` if it fails authentication: tampered with, or
        copied from another row or field. Never returns unauthenticated bytes.
        """
        aead = self._aeads.get(sealed.key_id)
        if aead is None:
            raise UnknownEncryptionKey(
                f"credential {ref.name} of integration {ref.integration_id} is encrypted under "
                f"key id {sealed.key_id!r}, which is not configured; add that key to "
                "ENCRYPTION_KEYS_PREVIOUS"
            )
        try:
            plaintext = aead.decrypt(sealed.nonce, sealed.ciphertext, associated_data(ref))
        except (InvalidTag, ValueError) as exc:  # ValueError: a nonce of the wrong length
            raise CredentialUndecryptable(
                f"credential {ref.name} of integration {ref.integration_id} does not decrypt "
                f"under key id {sealed.key_id}: it was altered or belongs to another row"
            ) from exc
        return Secret(plaintext.decode("utf-8", _TEXT_ERRORS))

    def reseal(self, ref: CredentialRef, sealed: Sealed) -> Sealed:
        """Return *sealed* re-encrypted under the current key (as is if already there)."""
        if sealed.key_id == self._current:
            return sealed
        return self.encrypt(ref, self.decrypt(ref, sealed))

    def __repr__(self) -> str:
        return f"CredentialCipher(key_ids={list(self.key_ids)!r})"
