"""What a Tawk.to integration's config says about its claim on a property.

A property id is public (every embed script shows it), so a setup is only a claim until the
tenant's API key is seen to reach the property. Setup, the config routes and webhook routing
all read the same mark, kept in ``config["property_verified"]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

PROPERTY_VERIFIED: Final = "property_verified"
"""``"true"`` once an API key of the tenant saw the property, ``"false"`` when it could not be
checked, ``"superseded"`` once a proven setup took the property from this claim; absent on
integrations set up before claims were checked."""

PROVEN: Final = "true"
UNPROVEN: Final = "false"
SUPERSEDED: Final = "superseded"


def claim_proven(config: Mapping[str, str]) -> bool:
    """Tell whether *config*'s claim may receive the operator's platform-wide deliveries.

    Proven claims may; so may integrations set up before claims were checked (no mark), which
    kept receiving. An unproven or superseded claim never receives another tenant's chats.
    """
    return config.get(PROPERTY_VERIFIED, PROVEN) == PROVEN
