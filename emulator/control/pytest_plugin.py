"""pytest plugin (entry point `pytest11`): the `helios` fixture.

    @pytest.mark.helios(profile="uni", clock="virtual", auth="basic", users=["ha:secret:switch-control"])
    def test_something(helios):
        helios.ring()
        ...

Each test gets its own emulator on free ports (HTTP and HTTPS), torn down afterwards, so tests
never share state and run in parallel under xdist. The marker's keywords are `Settings` fields;
override the `helios_settings` fixture to change the defaults of a whole module or suite.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Iterator

import pytest

from emulator.control.handle import Background, Intercom
from emulator.settings import Settings, parse_user


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "helios(**settings): settings of the `helios` fixture's emulator "
                   "(profile, clock, auth, users, licence, seed, ...)")


@pytest.fixture
def helios_settings() -> dict[str, Any]:
    """Defaults for every `helios` emulator of the scope that overrides this fixture."""
    return {}


@pytest.fixture
def helios(request: pytest.FixtureRequest, helios_settings: dict[str, Any]) -> Iterator[Intercom]:
    options: dict[str, Any] = {"port": 0, "https_port": 0, "rtsp_port": 0, **helios_settings}
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
