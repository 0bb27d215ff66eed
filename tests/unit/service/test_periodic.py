"""The one loop skeleton: waits between steps, goes again at once, survives failures, stops."""

from __future__ import annotations

import asyncio

import pytest
from structlog.testing import capture_logs

from integration_core.errors import StorageUnavailable
from integration_service.loops import AT_ONCE, Backoff, Periodic, Wakeup


class Script:
    """A step that plays back *outcomes* (a wait to return, or an exception to raise).

    Sets *stop* once every outcome has been played, so the loop ends after the last step.
    """

    def __init__(self, stop: asyncio.Event, outcomes: list[float | Exception | None]) -> None:
        self.stop = stop
        self.outcomes = outcomes
        self.calls = 0

    async def __call__(self) -> float | None:
        self.calls += 1
        outcome = self.outcomes.pop(0)
        if not self.outcomes:
            self.stop.set()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


async def test_a_failing_step_is_logged_by_kind_and_the_loop_goes_on() -> None:
    stop = asyncio.Event()
    step = Script(stop, [StorageUnavailable(), RuntimeError("bug"), None])

    with capture_logs() as logs:
        await Periodic(step, interval=0, unavailable="x_unavailable", failed="x_failed").run(stop)

    assert step.calls == 3
    assert [(e["event"], e["log_level"], e["retry_in_seconds"]) for e in logs] == [
        ("x_unavailable", "warning", 0),
        ("x_failed", "error", 0),
    ]
    assert "exc_info" in logs[1], "a bug is logged with its traceback"


async def test_an_outage_can_be_quiet_for_a_gauge() -> None:
    stop = asyncio.Event()
    step = Script(stop, [StorageUnavailable(), None])

    with capture_logs() as logs:
        loop = Periodic(step, interval=0, unavailable="u", failed="f", outage_level="debug")
        await loop.run(stop)

    assert [(e["event"], e["log_level"]) for e in logs] == [("u", "debug")]


async def test_failures_back_off_and_a_success_resets_the_backoff() -> None:
    stop = asyncio.Event()
    errors: list[float | Exception | None] = [StorageUnavailable() for _ in range(3)]
    step = Script(stop, [*errors, None, StorageUnavailable(), None])
    backoff = Backoff(first=0.001, maximum=0.003)

    with capture_logs() as logs:
        loop = Periodic(step, interval=0, unavailable="u", failed="f", backoff=backoff)
        await asyncio.wait_for(loop.run(stop), 5)

    assert [e["retry_in_seconds"] for e in logs] == [0.001, 0.002, 0.003, 0.001]


async def test_a_step_chooses_its_wait_and_none_means_the_interval() -> None:
    stop = asyncio.Event()
    step = Script(stop, [AT_ONCE, AT_ONCE, None, None])
    loop = Periodic(step, interval=3600, unavailable="u", failed="f")

    task = asyncio.create_task(loop.run(stop))
    for _ in range(20):
        await asyncio.sleep(0)
    assert step.calls == 3, "two steps went again at once; the third waits the interval"

    stop.set()  # ends the wait at once, not an hour later
    await asyncio.wait_for(task, 1)
    assert step.calls == 3


async def test_a_wakeup_ends_the_wait_early() -> None:
    stop = asyncio.Event()
    wakeup = Wakeup()
    step = Script(stop, [None, None, None])
    loop = Periodic(step, interval=3600, unavailable="u", failed="f", wakeup=wakeup)

    task = asyncio.create_task(loop.run(stop))
    await asyncio.sleep(0)
    assert step.calls == 1
    wakeup.ring()
    for _ in range(20):
        await asyncio.sleep(0)
    assert step.calls == 2

    wakeup.close()  # what Workers.wake_on_stop does at shutdown
    await asyncio.wait_for(task, 1)
    assert step.calls == 3


async def test_a_stopped_loop_never_steps() -> None:
    stop = asyncio.Event()
    stop.set()
    step = Script(stop, [None])

    await Periodic(step, interval=0, unavailable="u", failed="f").run(stop)

    assert step.calls == 0


def test_backoff_doubles_up_to_its_cap() -> None:
    backoff = Backoff(first=1, maximum=5)
    assert [backoff.failed() for _ in range(5)] == [1, 2, 4, 5, 5]
    backoff.succeeded()
    assert backoff.failed() == 1


@pytest.mark.parametrize("wait", [0.0, -1.0])
async def test_no_wait_lets_the_rest_of_the_process_run_first(wait: float) -> None:
    stop = asyncio.Event()
    seen: list[str] = []

    async def step() -> float:
        seen.append("step")
        if seen.count("step") == 3:
            stop.set()
        return wait

    async def neighbour() -> None:
        await asyncio.sleep(0)
        seen.append("neighbour")

    await asyncio.gather(
        Periodic(step, interval=3600, unavailable="u", failed="f").run(stop), neighbour()
    )

    assert seen.index("neighbour") < 3, "the neighbour ran between two steps"
