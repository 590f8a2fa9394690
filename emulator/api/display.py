"""Display service: display/caps, display/image (PUT a GIF of the display's size, DELETE),
display/text (a message; manual 5.9.4)."""

from __future__ import annotations

from emulator.api.call import Call
from emulator.device.outputs import DisplayMessage
from emulator.errors import ApiError, ErrorCode, invalid, missing
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


# display/text (manual 5.9.4): a JSON body {uid, message: [{language, text}] | text, response,
# timeout, icon}; the same keys as parameters (not message[]) for a client that sends them in the
# query or a form (hexamus POSTs text=...).
MAX_UID = 40
MAX_TEXT = 1024
MAX_LANGUAGES = 32
TIMEOUT_DEFAULT = 3600
TIMEOUT_MAX = {True: 3600, False: 1209600}  # with a response asked for, and without
ICONS = ("none", "operator", "technician")


def text(call: Call) -> dict:
    device = call.device
    if call.request.method == "DELETE":
        return {"uid": device.clear_message()}
    body = call.params.json if isinstance(call.params.json, dict) else {}
    values = {**call.params.values, **body}  # the JSON body wins over the parameters
    uid = values.get("uid", "")
    if not isinstance(uid, str) or len(uid) > MAX_UID:
        raise invalid("uid")
    if "message" in body and "text" in values:
        raise ApiError(ErrorCode.PARAMETER_COLLISION, "text")  # "a combination is not supported"
    if "message" in body:
        texts = _translations(body["message"])
    elif "text" in values:
        free = values["text"]
        if not isinstance(free, str) or not free or len(free) > MAX_TEXT:
            raise invalid("text")
        texts = {"": free}
    else:
        raise missing("text")
    response = _flag(values.get("response", False))
    timeout = values.get("timeout", TIMEOUT_DEFAULT)
    if isinstance(timeout, str) and timeout.isascii() and timeout.isdigit():
        timeout = int(timeout)
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= TIMEOUT_MAX[response]:
        raise invalid("timeout")
    icon = values.get("icon", "none")
    if icon not in ICONS:
        raise invalid("icon")
    device.show_message(DisplayMessage(uid, texts, response, timeout, icon))
    return {"response": "", "uid": uid}


def _translations(message: object) -> dict[str, str]:
    if not isinstance(message, list) or not 1 <= len(message) <= MAX_LANGUAGES:
        raise invalid("message")
    texts = {}
    for item in message:
        language = item.get("language") if isinstance(item, dict) else None
        words = item.get("text") if isinstance(item, dict) else None
        if not isinstance(language, str) or not (2 <= len(language) <= 3 and language.isascii() and
                                                 language.isalpha()) or \
                not isinstance(words, str) or not words or len(words) > MAX_TEXT:
            raise invalid("message")
        texts[language.lower()] = words
    return texts


def _flag(value: object) -> bool:
    if isinstance(value, bool):
        return value
    if value in ("true", "1"):
        return True
    if value in ("false", "0"):
        return False
    raise invalid("response")
