"""Starting the control plane fails loudly, with the component's own log, and never hangs."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest

from tests.cluster import build
from tests.cluster.control_plane import Component, StartError, wait_until

pytestmark = pytest.mark.cluster


def test_a_component_that_exits_fails_the_start_with_its_log(tmp_path: Path) -> None:
    binaries = build.build()  # cached: at once
    etcd = Component("etcd", [str(binaries / "etcd"), "--no-such-flag"], tmp_path / "etcd.log")
    etcd.start()
    with pytest.raises(StartError) as failed:
        wait_until(etcd, lambda: False, 30, "healthy")
    message = str(failed.value)
    assert message.startswith("etcd exited (code 2) before healthy; its log")
    assert "no-such-flag" in message  # etcd's own words


def test_a_component_that_never_becomes_healthy_fails_at_the_deadline(tmp_path: Path) -> None:
    sleeper = Component("sleeper", [sys.executable, "-c", "print('still starting', flush=True); "
                                    "import time; time.sleep(60)"], tmp_path / "sleeper.log")
    sleeper.start()
    started = time.monotonic()
    try:
        with pytest.raises(StartError) as failed:
            wait_until(sleeper, lambda: False, 1, "ready")
    finally:
        sleeper.stop()
    assert time.monotonic() - started < 30  # the deadline, not the process, ended the wait
    assert str(failed.value).startswith("sleeper did not become ready within 1 s; its log")
    assert "still starting" in str(failed.value)
    assert not sleeper.running()  # stopped: only what the test started
