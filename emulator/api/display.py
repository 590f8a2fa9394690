"""Display service: display/caps, display/image (PUT a GIF of the display's size, DELETE)."""

from __future__ import annotations

import io

from PIL import Image, UnidentifiedImageError

from emulator.api.call import Call
from emulator.errors import invalid

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
    try:
        with Image.open(io.BytesIO(blob)) as picture:
            ok = picture.format == "GIF" and picture.size == (display.width, display.height)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        ok = False
    if not ok:
        raise invalid(IMAGE)
    display.image = blob
    call.device.changed()
