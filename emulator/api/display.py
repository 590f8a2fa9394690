"""Display service: display/caps, display/image (PUT a GIF of the display's size, DELETE)."""

from __future__ import annotations

from emulator.api.call import Call
from emulator.errors import invalid
from emulator.media.frames import fits_display

IMAGE = "blob-image"


def caps(call: Call) -> dict:
    d = call.device.display
    return {"displays": [{"display": d.name, "resolution": {"width": d.width, "height": d.height}}]}


def image(call: Call) -> None:
    display = call.device.display
    if call.params.required("display") != display.name:
        raise invalid("display")
    if call.request.method == "DELETE":
        display.image = None
        call.device.changed()
        return
    blob = call.params.blob(IMAGE)
    if not fits_display(blob, display.width, display.height):
        raise invalid(IMAGE)
    display.image = blob
    call.device.changed()
