"""Describe the running process for the health endpoint, cheaply.

Every figure comes from one ``psutil.Process`` kept on the application, so ``cpu_percent`` is
the usage since the previous health check rather than a blocking sample.
"""

from __future__ import annotations

import asyncio
import os
import platform
import time
from typing import Final

import psutil
from aiohttp import web

PROCESS: Final = web.AppKey("process", psutil.Process)


def runtime_info(process: psutil.Process) -> dict[str, object]:
    """Return Python version, pid, uptime, memory, CPU, threads and event-loop tasks."""
    info: dict[str, object] = {
        "python": platform.python_version(),
        "pid": os.getpid(),
        "event_loop_tasks": len(asyncio.all_tasks()),
    }
    try:
        with process.oneshot():
            info["uptime_seconds"] = round(max(0.0, time.time() - process.create_time()), 3)
            info["memory_rss_bytes"] = process.memory_info().rss
            info["cpu_percent"] = process.cpu_percent(interval=None)
            info["threads"] = process.num_threads()
    except psutil.Error:
        # A locked-down container may hide /proc; health must still answer.
        info.update(uptime_seconds=None, memory_rss_bytes=None, cpu_percent=None, threads=None)
    return info
