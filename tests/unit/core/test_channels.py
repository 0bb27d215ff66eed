"""The integration lifecycle only allows the moves it documents."""

from __future__ import annotations

from datetime import timedelta

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from integration_core.channels import Channel, Integration, IntegrationStatus, can_transition
from integration_core.errors import Conflict
from integration_core.testing.strategies import integrations


def test_meta_channels() -> None:
    assert {c for c in Channel if c.is_meta} == {
        Channel.WHATSAPP,
        Channel.MESSENGER,
        Channel.INSTAGRAM,
    }


@given(integrations(), st.sampled_from(IntegrationStatus))
def test_with_status_follows_the_transition_table(
    integration: Integration, status: IntegrationStatus
) -> None:
    later = integration.updated_at + timedelta(seconds=1)
    if can_transition(integration.status, status):
        moved = integration.with_status(status, at=later)
        assert moved.status is status
        if status is not integration.status:
            assert moved.status_changed_at == later
            assert moved.updated_at == later
        else:
            assert moved is integration
    else:
        with pytest.raises(Conflict):
            integration.with_status(status, at=later)


@given(integrations())
def test_every_state_can_come_back_to_active(integration: Integration) -> None:
    assert can_transition(integration.status, IntegrationStatus.ACTIVE)


def test_disabled_cannot_expire() -> None:
    assert not can_transition(IntegrationStatus.DISABLED, IntegrationStatus.EXPIRED)


@given(integrations())
def test_only_disabled_integrations_stop_receiving(integration: Integration) -> None:
    assert integration.receives_events is (integration.status is not IntegrationStatus.DISABLED)
    expired = attrs.evolve(integration, status=IntegrationStatus.EXPIRED)
    assert expired.receives_events
