"""Vault (or OpenBao): keep integration secrets in KV v2, check the server is unsealed."""

from adapters_platforms.vault.probe import VaultProbe
from adapters_platforms.vault.store import VaultCredentialStore, path_segment

__all__ = ["VaultCredentialStore", "VaultProbe", "path_segment"]
