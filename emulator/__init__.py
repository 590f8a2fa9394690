"""helios-emulator: a faithful, fast emulator of the 2N Helios IP intercom HTTP API.

    from emulator import Settings, running

    with running(Settings(clock="virtual")) as intercom:   # free ports unless the Settings name some
        intercom.ring()
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"
__all__ = ["Settings", "running", "__version__"]


def __getattr__(name: str) -> Any:
    # Imported when first asked for: `import emulator` (which every submodule import does) stays light.
    if name == "Settings":
        from emulator.settings import Settings
        return Settings
    if name == "running":
        from emulator.control.handle import running
        return running
    raise AttributeError(f"module 'emulator' has no attribute {name!r}")
