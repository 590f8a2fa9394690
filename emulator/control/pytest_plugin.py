"""pytest plugin (entry point `pytest11`): the `helios` fixture.

    @pytest.mark.helios(profile="uni", clock="virtual", auth="basic", users=["ha:secret:switch-control"])
    def test_something(helios):
        helios.ring()
        ...

Each test gets its own emulator on free ports (HTTP, HTTPS and RTSP), torn down afterwards, so tests
never share state and run in parallel under xdist. The marker's keywords are `Settings` fields;
override the `helios_settings` fixture to change the defaults of a whole module or suite.

When a test that uses `helios` fails, its report ends with the tail of the emulator's journal
(the last TAIL requests and device actions, each with its reason), under "helios journal".
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterator

import pytest

from emulator.control.handle import Background, Intercom
from emulator.control.journal import describe
from emulator.settings import Settings, parse_user

TAIL = 20


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "helios(**settings): settings of the `helios` fixture's emulator "
                   "(profile, clock, auth, users, licence, seed, ...)")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    intercom = getattr(item, "funcargs", {}).get("helios")
    if report.failed and call.when == "call" and isinstance(intercom, Intercom):
        entries = intercom.journal()[-TAIL:]
        lines = [f"{e['time']:.3f} {describe(e)}" for e in entries] or ["(empty)"]
        report.sections.append((f"helios journal (last {len(entries)} entries)", "\n".join(lines)))
    return report


@pytest.fixture
def helios_settings() -> dict[str, Any]:
    """Defaults for every `helios` emulator of the scope that overrides this fixture."""
    return {}


@pytest.fixture
def helios(request: pytest.FixtureRequest, helios_settings: dict[str, Any]) -> Iterator[Intercom]:
    options: dict[str, Any] = {"rtsp_port": 0, **helios_settings}
    marker = request.node.get_closest_marker("helios")
    if marker is not None:
        options.update(marker.kwargs)
    if options.get("users") is not None:
        options["users"] = [parse_user(u) if isinstance(u, str) else u for u in options["users"]]
    background = Background(Settings(**options))
    intercom = background.start()
    try:
        yield intercom
    finally:
        background.stop()
