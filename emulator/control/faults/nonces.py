"""nonces: every Digest nonce issued so far expires now (a device fault: it acts once). The next
request with an old nonce gets 401 with stale=true, as a device that rotated its nonces."""

from __future__ import annotations

from emulator.control.faults.base import DeviceFault


class Nonces(DeviceFault):
    kind = "nonces"

    def act(self, emulator) -> None:
        emulator.auth.forget_nonces()
