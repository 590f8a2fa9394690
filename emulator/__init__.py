"""helios-emulator: a faithful, fast emulator of the 2N Helios IP intercom HTTP API."""

__version__ = "0.1.0"
