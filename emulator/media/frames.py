"""Camera frames: a generated test card a person recognises at a glance.

Each frame shows the device name, the source, the resolution, the date and time with tenths and a
frame counter, over a background (a gradient, or a still image). A bar sweeps across the picture so
successive frames differ, and while motion is detected a figure stands in the scene. Above the bar,
a strip of black and white cells spells the frame counter in binary, big enough to survive JPEG
and H.264 compression: `read_counter(image)` reads it back (tests, and your own, use it to see
that a stream moves).
"""

from __future__ import annotations

import io
import math
import time as _time
from dataclasses import dataclass
from functools import lru_cache

from PIL import Image, ImageDraw, ImageFont, UnidentifiedImageError


def fits_display(blob: bytes, width: int, height: int) -> bool:
    """Whether an image is one the device shows: a GIF of the display's size."""
    try:
        with Image.open(io.BytesIO(blob)) as picture:
            return picture.format == "GIF" and picture.size == (width, height)
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return False


@dataclass(frozen=True)
class Scene:
    device_name: str
    source: str
    width: int
    height: int
    when: float  # device wall time of the frame (unix seconds)
    tz_shift: int  # minutes, for the local time printed on the frame
    frame: int
    motion: bool
    still: str = ""  # path of a background image


@lru_cache(maxsize=16)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    return ImageFont.load_default(size=size)


@lru_cache(maxsize=32)
def _background(width: int, height: int, source: str, still: str) -> Image.Image:
    if still:  # the profile loader checked the file
        with Image.open(still) as img:
            return img.convert("RGB").resize((width, height))
    # A gradient per source, so internal and external cameras look different at a glance.
    top, bottom = ((32, 64, 112), (12, 20, 36)) if source == "internal" else ((96, 48, 24), (28, 16, 10))
    gradient = Image.linear_gradient("L").resize((width, height))
    return Image.composite(Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top),
                           gradient)


def render(scene: Scene) -> Image.Image:
    w, h = scene.width, scene.height
    img = _background(w, h, scene.source, scene.still).copy()
    draw = ImageDraw.Draw(img, "RGBA")
    unit = max(h // 16, 8)

    # The moving part: a bar that crosses the picture every four seconds.
    phase = (scene.when % 4.0) / 4.0
    x = int(phase * (w + unit)) - unit
    draw.rectangle((x, h - unit, x + unit, h - 1), fill=(240, 180, 40))

    if scene.motion:
        _figure(draw, w, h, scene.when)
    _counter(draw, w, h, scene.frame)

    local = scene.when + scene.tz_shift * 60
    stamp = _time.strftime("%Y-%m-%d %H:%M:%S", _time.gmtime(local)) + f".{int(local * 10) % 10}"
    lines = [
        (scene.device_name, unit),
        (f"{scene.source}  {w}x{h}", max(unit * 3 // 4, 8)),
        (stamp, max(unit * 3 // 4, 8)),
        (f"frame {scene.frame}" + ("  MOTION" if scene.motion else ""), max(unit * 3 // 4, 8)),
    ]
    y = max(unit // 3, 2)
    for text, size in lines:
        font = _font(size)
        left, top, right, bottom = draw.textbbox((unit // 2, y), text, font=font)
        draw.rectangle((left - 3, top - 2, right + 3, bottom + 2), fill=(0, 0, 0, 140))  # legible on any still
        draw.text((unit // 2, y), text, font=font, fill=(255, 255, 255))
        y += size + max(size // 4, 1)
    return img


def _figure(draw: ImageDraw.ImageDraw, w: int, h: int, when: float) -> None:
    """A stick figure that walks in place while motion is "in"."""
    cx = int(w * 0.7)
    scale = h / 4
    head = scale * 0.18
    top = h * 0.35
    swing = math.sin(when * 6) * scale * 0.25
    color = (250, 250, 250)
    width = max(int(scale * 0.06), 1)
    draw.ellipse((cx - head, top, cx + head, top + 2 * head), outline=color, width=width)
    neck = top + 2 * head
    hip = neck + scale * 0.9
    draw.line((cx, neck, cx, hip), fill=color, width=width)
    draw.line((cx, neck + scale * 0.2, cx - swing, neck + scale * 0.6), fill=color, width=width)
    draw.line((cx, neck + scale * 0.2, cx + swing, neck + scale * 0.6), fill=color, width=width)
    draw.line((cx, hip, cx - swing, hip + scale * 0.8), fill=color, width=width)
    draw.line((cx, hip, cx + swing, hip + scale * 0.8), fill=color, width=width)


COUNTER_BITS = 24


def _counter_cells(w: int, h: int) -> tuple[int, int, int]:
    """Where the counter strip is: cell size, left and top (just above the moving bar)."""
    cell = max(w // 64, 4)
    return cell, cell, h - max(h // 16, 8) - 2 * cell


def _counter(draw: ImageDraw.ImageDraw, w: int, h: int, frame: int) -> None:
    cell, left, top = _counter_cells(w, h)
    for bit in range(COUNTER_BITS):  # most significant first; white = 1
        x = left + bit * cell
        on = frame >> (COUNTER_BITS - 1 - bit) & 1
        draw.rectangle((x, top, x + cell - 1, top + cell - 1), fill=(255, 255, 255) if on else (0, 0, 0))


def read_counter(img: Image.Image) -> int:
    """The frame counter a frame shows (from its strip of cells), from a decoded picture."""
    gray = img.convert("L")
    cell, left, top = _counter_cells(*gray.size)
    value = 0
    for bit in range(COUNTER_BITS):
        centre = (left + bit * cell + cell // 2, top + cell // 2)
        value = value << 1 | (gray.getpixel(centre) >= 128)
    return value


def encode(img: Image.Image, quality: int = 80) -> bytes:
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality)
    return out.getvalue()


def jpeg(scene: Scene, quality: int = 80) -> bytes:
    return encode(render(scene), quality)
