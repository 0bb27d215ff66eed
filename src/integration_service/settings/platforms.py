"""The platforms' groups of settings: webhook secrets, API roots, Mercado Pago, Vault.

Each section reads itself (``from_env``) through the shared :class:`~.env.EnvReader`, like those
of :mod:`.sections`; variables of the original service that no longer have an effect are noted
on the reader and become start-up warnings.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta

import attrs

from integration_core.channels import MESSAGING_CHANNELS, Channel
from integration_core.credentials import Secret
from integration_service.settings.env import EnvReader
from integration_service.settings.sections import CredentialStoreKind

_GRAPH_VERSION = re.compile(r"v\d+\.\d+")
# Why a verify token of a channel without Meta's subscription handshake does nothing.
_NO_HANDSHAKE: dict[Channel, str] = {
    Channel.TELEGRAM: "Telegram has no verification handshake; each Telegram integration "
    "gets its own secret token at setup (X-Telegram-Bot-Api-Secret-Token)",
    Channel.WEBCHAT: "webchat has no verification handshake; deliveries are signed with "
    "WEBCHAT_WEBHOOK_SECRET or each integration's own signing secret",
    Channel.TAWKTO: "Tawk.to has no verification handshake; deliveries are signed with "
    "TAWKTO_WEBHOOK_SECRET or each integration's own webhook_secret",
}
# The original's platform-wide Tawk.to account variables, and the setup field that replaced each.
_TAWKTO_ACCOUNT = {
    "TAWKTO_API_KEY": "api_key",
    "TAWKTO_PROPERTY_ID": "property_id",
    "TAWKTO_WIDGET_ID": "widget_id",
}
_MP_ENVIRONMENTS = {
    "sandbox": "sandbox",
    "test": "sandbox",
    "production": "production",
    "prod": "production",
    "live": "production",
}


@attrs.frozen(kw_only=True)
class ChannelSecrets:
    """A channel's global verify token and webhook secrets (current first, then previous)."""

    verify_token: Secret | None = None
    webhook_secrets: tuple[Secret, ...] = ()


@attrs.frozen(kw_only=True)
class PlatformSettings:
    """Per-channel webhook secrets and the platform API roots (overridable for tests)."""

    channels: Mapping[Channel, ChannelSecrets] = attrs.field(
        factory=lambda: {channel: ChannelSecrets() for channel in MESSAGING_CHANNELS}
    )
    meta_graph_base_url: str = "https://graph.facebook.com"
    meta_graph_version: str = "v26.0"
    meta_app_id: str | None = None
    instagram_graph_base_url: str = "https://graph.instagram.com"
    telegram_api_base_url: str = "https://api.telegram.org"
    token_refresh_margin: timedelta = timedelta(days=10)

    def secrets_for(self, channel: Channel) -> ChannelSecrets:
        """Return *channel*'s secrets (empty for a channel without global ones)."""
        return self.channels.get(channel, ChannelSecrets())

    @property
    def webhook_secrets(self) -> Mapping[Channel, tuple[Secret, ...]]:
        """Return every messaging channel's webhook secrets (empty: only integrations' own)."""
        return {c: self.secrets_for(c).webhook_secrets for c in MESSAGING_CHANNELS}

    @property
    def verify_tokens(self) -> Mapping[Channel, tuple[Secret, ...]]:
        """Return each Meta channel's verify token, for those that have one."""
        return {
            channel: (token,)
            for channel in MESSAGING_CHANNELS
            if channel.is_meta and (token := self.secrets_for(channel).verify_token) is not None
        }

    @classmethod
    def from_env(cls, reader: EnvReader) -> PlatformSettings:
        """Read each channel's ``*_VERIFY_TOKEN``/``*_WEBHOOK_SECRET`` and the platform API roots.

        Only Meta has a subscription handshake, so a verify token of another channel (the original
        service read one per channel) is noted on *reader* as having no effect.
        """
        defaults = cls()
        for channel in MESSAGING_CHANNELS:
            name = f"{channel.name}_VERIFY_TOKEN"
            if not channel.is_meta and reader.is_set(name):
                reader.note(f"{name} is set but has no effect: {_NO_HANDSHAKE[channel]}")
        version = reader.text("META_GRAPH_VERSION", defaults.meta_graph_version)
        if version is not None and not _GRAPH_VERSION.fullmatch(version):
            reader.problem("META_GRAPH_VERSION", f"{version!r} is not a version like v26.0")
        return cls(
            channels={
                channel: ChannelSecrets(
                    verify_token=reader.secret(f"{channel.name}_VERIFY_TOKEN")
                    if channel.is_meta
                    else None,
                    webhook_secrets=reader.secrets(f"{channel.name}_WEBHOOK_SECRET"),
                )
                for channel in MESSAGING_CHANNELS
            },
            meta_graph_base_url=_url(reader, "META_GRAPH_BASE_URL", defaults.meta_graph_base_url),
            meta_graph_version=version or defaults.meta_graph_version,
            meta_app_id=reader.text("META_APP_ID"),
            instagram_graph_base_url=_url(
                reader, "INSTAGRAM_GRAPH_BASE_URL", defaults.instagram_graph_base_url
            ),
            telegram_api_base_url=_url(
                reader, "TELEGRAM_API_BASE_URL", defaults.telegram_api_base_url
            ),
            token_refresh_margin=reader.duration(
                "TOKEN_REFRESH_MARGIN", defaults.token_refresh_margin
            ),
        )


@attrs.frozen(kw_only=True)
class TawktoSettings:
    """The Tawk.to REST API root (``TAWKTO_BASE_URL``, with or without its ``/v1``).

    The account (API key, property and widget ids) belongs to each tenant's Tawk.to
    integration, so ``TAWKTO_API_KEY``, ``TAWKTO_PROPERTY_ID`` and ``TAWKTO_WIDGET_ID`` are only
    warned about (see :meth:`from_env`).
    """

    base_url: str = "https://api.tawk.to/v1"

    @classmethod
    def from_env(cls, reader: EnvReader) -> TawktoSettings:
        """Read ``TAWKTO_BASE_URL``; note the original's account variables, which have no effect.

        The original service had one Tawk.to account for every tenant. Here each tenant connects
        its own (``POST /api/v1/integrations/tawkto/setup`` carries ``api_key``, ``property_id``
        and ``widget_id``), and a platform-wide account would let one tenant's routes read another
        tenant's chats, so these variables are not used as a fallback.
        """
        for name, field in _TAWKTO_ACCOUNT.items():
            if reader.is_set(name):
                reader.note(
                    f"{name} is set but has no effect: each tenant's Tawk.to integration carries "
                    f"its own {field} (POST /api/v1/integrations/tawkto/setup)"
                )
        return cls(base_url=_url(reader, "TAWKTO_BASE_URL", cls().base_url))


@attrs.frozen(kw_only=True)
class MercadoPagoSettings:
    """Our own Mercado Pago account and how its notifications are verified.

    *environment* defaults to ``production`` as in the original service: a production deploy
    must never send buyers to the test checkout because a variable was left out.
    """

    access_token: Secret | None = None
    client_id: str | None = None
    client_secret: Secret | None = None
    environment: str = "production"
    webhook_url: str | None = None
    webhook_secrets: tuple[Secret, ...] = ()
    webhook_tolerance_seconds: int = 0
    api_base_url: str = "https://api.mercadopago.com"
    ipn_enabled: bool = True
    """Accept legacy unsigned IPNs (``MP_IPN_ENABLED``), as the original service did."""
    ipn_window: timedelta = timedelta(minutes=1)
    """IPNs naming one resource are stored and fetched once per window (``MP_IPN_WINDOW``)."""

    @classmethod
    def from_env(cls, reader: EnvReader) -> MercadoPagoSettings:
        """Read our Mercado Pago account and notification settings (``MP_*``)."""
        defaults = cls()
        return cls(
            access_token=reader.secret("MP_ACCESS_TOKEN"),
            client_id=reader.text("MP_CLIENT_ID"),
            client_secret=reader.secret("MP_CLIENT_SECRET"),
            environment=reader.choice("MP_ENVIRONMENT", defaults.environment, _MP_ENVIRONMENTS),
            webhook_url=reader.url("MP_WEBHOOK_URL"),
            webhook_secrets=reader.secrets("MP_WEBHOOK_SECRET"),
            webhook_tolerance_seconds=reader.integer(
                "MP_WEBHOOK_TOLERANCE_SECONDS", defaults.webhook_tolerance_seconds, minimum=0
            ),
            api_base_url=_url(reader, "MP_API_BASE_URL", defaults.api_base_url),
            ipn_enabled=reader.boolean("MP_IPN_ENABLED", defaults.ipn_enabled),
            ipn_window=reader.duration("MP_IPN_WINDOW", defaults.ipn_window, positive=True),
        )


@attrs.frozen(kw_only=True)
class VaultSettings:
    """Vault (or OpenBao) KV v2, used when ``CREDENTIAL_STORE=vault``."""

    addr: str | None = None
    token: Secret | None = None

    @classmethod
    def from_env(
        cls, reader: EnvReader, store: CredentialStoreKind, chosen_by: str
    ) -> VaultSettings:
        """Read ``VAULT_ADDR``/``VAULT_TOKEN``; both are required when *store* is Vault.

        Given while credentials stay in the database, they have no effect: *reader* notes it.
        """
        vault = cls(addr=reader.url("VAULT_ADDR"), token=reader.secret("VAULT_TOKEN"))
        if store is CredentialStoreKind.VAULT:
            why = (
                "CREDENTIAL_STORE=vault"
                if chosen_by == "CREDENTIAL_STORE"
                else "credentials are kept in Vault (the default when VAULT_ADDR is set; "
                "CREDENTIAL_STORE=database keeps them in the database)"
            )
            for name in ("VAULT_ADDR", "VAULT_TOKEN"):
                if not reader.is_set(name):
                    reader.problem(name, f"required when {why}")
            return vault
        given = [name for name in ("VAULT_ADDR", "VAULT_TOKEN") if reader.is_set(name)]
        if given:
            by_variable = chosen_by == "CREDENTIAL_STORE"
            cause = "CREDENTIAL_STORE=database" if by_variable else "no VAULT_ADDR"
            reader.note(
                f"{' and '.join(given)} {'are' if len(given) > 1 else 'is'} set but "
                f"{'have' if len(given) > 1 else 'has'} no effect: {cause}, so credentials are "
                "kept encrypted in the database"
            )
        return vault


def _url(reader: EnvReader, name: str, default: str) -> str:
    return reader.url(name, default) or default
