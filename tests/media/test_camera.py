"""camera/caps and single-picture camera/snapshot, as integrations use them.

What clients rely on (research/clients.md sections 2, 5, 6, 6b, 10.9, 11): `jpegResolution` and
`sources` in caps; a JPEG with Content-Type exactly `image/jpeg` at every advertised size (HomeKit
asks for 640x360 without `source`); 11/12 JSON errors naming the parameter; `quality` and `time`
accepted; and a picture that visibly lives (time, bar, motion figure, per-source look).
"""

from __future__ import annotations

import asyncio
import io

import pytest
from PIL import Image, ImageChops, ImageStat

from emulator.device.clock import VirtualClock

VARIO_215_SIZES = [(160, 120), (176, 144), (320, 240), (352, 272), (352, 288), (640, 480)]
# The list, in the order, a real IP Verso on firmware 2.50 reports.
VERSO_SIZES = [(176, 144), (320, 240), (352, 288), (640, 480), (800, 600), (1280, 960),
               (160, 120), (352, 272), (480, 272), (1024, 600), (1280, 720), (640, 360)]


def decode(body: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(body))
    assert image.format == "JPEG"
    image.load()  # the whole picture decodes, not just its header
    return image.convert("RGB")


def sizes(caps: dict) -> list[tuple[int, int]]:
    return [(r["width"], r["height"]) for r in caps["jpegResolution"]]


def mean_difference(a: Image.Image, b: Image.Image, box: tuple[int, int, int, int] | None = None) -> float:
    """Average per-channel difference of two pictures (or of one region of them), 0..255."""
    if box is not None:
        a, b = a.crop(box), b.crop(box)
    return sum(ImageStat.Stat(ImageChops.difference(a, b)).mean) / 3


async def snapshot(client, **params) -> bytes:
    reply = await client.get("/api/camera/snapshot", **params)
    assert reply.status == 200
    assert reply.content_type == "image/jpeg", reply.body[:200]
    return reply.body


def lenient_profile(tmp_path, lenient: bool = True, extra: str = "") -> str:
    path = tmp_path / "lenient.toml"
    path.write_text(f'extends = "verso"\n\n[camera]\nlenient_resolution = {str(lenient).lower()}\n{extra}')
    return str(path)


# -- camera/caps -------------------------------------------------------------------------------


async def test_vario_215_caps_list_exactly_the_manuals_sizes(make_emulator, make_client):
    api = make_client(await make_emulator(profile="vario-2.15"))
    reply = await api.get("/api/camera/caps")
    assert reply.status == 200 and reply.content_type == "application/json"
    caps = reply.result
    assert sizes(caps) == VARIO_215_SIZES
    assert caps["sources"] == [{"source": "internal"}, {"source": "external"}]


async def test_verso_caps_list_a_current_versos_sizes(api):
    caps = (await api.get("/api/camera/caps")).result
    assert sizes(caps) == VERSO_SIZES
    # HomeKit asks for these; py2n-intercom's fallback list is 640x480 and 1280x960.
    for size in [(640, 360), (1280, 720), (640, 480), (1280, 960)]:
        assert size in sizes(caps)
    assert caps["sources"] == [{"source": "internal"}, {"source": "external"}]
    for entry in caps["jpegResolution"]:
        assert set(entry) == {"width", "height"}
        assert type(entry["width"]) is int and type(entry["height"]) is int


@pytest.mark.parametrize("profile", ["uni", "access-unit"])
async def test_models_without_a_camera_answer_not_supported(make_emulator, make_client, profile):
    api = make_client(await make_emulator(profile=profile))
    for path, params in [("/api/camera/caps", {}), ("/api/camera/snapshot", {"width": 640, "height": 480}),
                         ("/api/camera/snapshot", {"width": 640, "height": 480, "fps": 5})]:
        reply = await api.get(path, **params)
        assert reply.status == 200
        assert reply.content_type == "application/json"
        assert reply.error["code"] == 1, (path, reply.json)


# -- camera/snapshot: every advertised size ----------------------------------------------------


@pytest.mark.parametrize("profile", ["verso", "vario-2.15"])
async def test_every_advertised_size_is_a_jpeg_of_that_size(make_emulator, make_client, profile):
    api = make_client(await make_emulator(profile=profile))
    caps = (await api.get("/api/camera/caps")).result
    assert caps["jpegResolution"]
    for width, height in sizes(caps):
        # No source at all, as homebridge sends it, then each advertised source.
        for source in [None, *(s["source"] for s in caps["sources"])]:
            params = {"width": width, "height": height} | ({"source": source} if source else {})
            reply = await api.get("/api/camera/snapshot", **params)
            assert reply.status == 200
            assert reply.content_type == "image/jpeg", (params, reply.body[:200])
            assert reply.headers["Server"].startswith("HIP")
            assert int(reply.headers["Content-Length"]) == len(reply.body)
            assert decode(reply.body).size == (width, height), params


async def test_snapshot_over_https_and_over_basic_auth(emu, make_emulator, make_client):
    # py2n-intercom's default is HTTPS; homebridge sends preemptive Basic.
    api = make_client(emu, scheme="https")
    assert decode(await snapshot(api, width=640, height=480)).size == (640, 480)
    api = make_client(await make_emulator(auth="basic"), auth="basic")
    assert decode(await snapshot(api, width=640, height=360)).size == (640, 360)


async def test_snapshot_by_post_form(api):
    # spfuu's client POSTs every function with a form body.
    reply = await api.post("/api/camera/snapshot", data={"width": "352", "height": "288", "source": "external"})
    assert reply.status == 200 and reply.content_type == "image/jpeg"
    assert decode(reply.body).size == (352, 288)
    reply = await api.post("/api/camera/caps", data={})
    assert sizes(reply.result) == VERSO_SIZES


async def test_camera_needs_no_licence_on_2_15(make_emulator, make_client):
    api = make_client(await make_emulator(profile="vario-2.15", licence=False))
    assert sizes((await api.get("/api/camera/caps")).result) == VARIO_215_SIZES
    assert decode(await snapshot(api, width=320, height=240)).size == (320, 240)


async def test_snapshot_needs_credentials(emu, make_client):
    reply = await make_client(emu, user=None).get("/api/camera/snapshot", width=640, height=480)
    assert reply.status == 401
    assert reply.error["code"] == 9


# -- camera/snapshot: parameters ---------------------------------------------------------------


async def test_width_and_height_are_required(api):
    reply = await api.get("/api/camera/snapshot", height=480)
    assert (reply.status, reply.content_type) == (200, "application/json")
    assert reply.error["code"] == 11 and reply.error["param"] == "width"
    reply = await api.get("/api/camera/snapshot", width=640)
    assert reply.error["code"] == 11 and reply.error["param"] == "height"
    reply = await api.get("/api/camera/snapshot")
    assert reply.error["code"] == 11 and reply.error["param"] in ("width", "height")


@pytest.mark.parametrize("profile, width, height, param", [
    ("verso", 641, 480, "width"),  # no listed size is 641 wide
    ("verso", 80, 80, "width"),  # what Home Assistant probes
    ("verso", 640, 481, "height"),  # 640 is listed, but not with 481
    ("verso", 1280, 1024, "height"),
    ("vario-2.15", 640, 360, "height"),  # a current Verso's HomeKit size is not on a 2.15 Vario
    ("vario-2.15", 1280, 960, "width"),
    ("vario-2.15", 1280, 720, "width"),
])
async def test_unlisted_sizes_are_invalid(make_emulator, make_client, profile, width, height, param):
    api = make_client(await make_emulator(profile=profile))
    reply = await api.get("/api/camera/snapshot", width=width, height=height)
    assert (reply.status, reply.content_type) == (200, "application/json")
    assert reply.error == {"code": 12, "param": param, "description": "invalid parameter value"}


@pytest.mark.parametrize("width, height, param", [("abc", 480, "width"), (640, "", "height"), (-640, 480, "width")])
async def test_sizes_that_are_not_numbers_are_invalid(api, width, height, param):
    reply = await api.get("/api/camera/snapshot", width=width, height=height)
    assert reply.error["code"] == 12 and reply.error["param"] == param


async def test_unknown_source_is_invalid(api):
    for source in ["front", "INTERNAL", "external2"]:
        reply = await api.get("/api/camera/snapshot", width=640, height=480, source=source)
        assert reply.content_type == "application/json"
        assert reply.error["code"] == 12 and reply.error["param"] == "source", source


async def test_quality_and_time_are_accepted(api):
    for params in [{"quality": 10}, {"quality": 95}, {"time": 0}, {"time": -30}, {"time": -5, "quality": 50}]:
        body = await snapshot(api, width=640, height=480, **params)
        assert decode(body).size == (640, 480), params


@pytest.mark.parametrize("time", [-31, 1, "soon"])
async def test_time_outside_minus_30_to_0_is_invalid_on_current_firmware(api, time):
    reply = await api.get("/api/camera/snapshot", width=640, height=480, time=time)
    assert reply.error["code"] == 12 and reply.error["param"] == "time"


async def test_missing_source_means_the_profiles_default_camera(make_emulator, make_client, tmp_path):
    # A frozen clock: pictures taken at the same device time show the same frame.
    clock = VirtualClock()
    api = make_client(await make_emulator(clock=clock))
    plain = await snapshot(api, width=640, height=480)
    assert plain == await snapshot(api, width=640, height=480, source="internal")
    assert plain != await snapshot(api, width=640, height=480, source="external")

    path = tmp_path / "external.toml"
    path.write_text('extends = "verso"\n\n[camera]\ndefault_source = "external"\n')
    api = make_client(await make_emulator(clock=VirtualClock(), profile=str(path)))
    plain = await snapshot(api, width=640, height=480)
    assert plain == await snapshot(api, width=640, height=480, source="external")
    assert plain != await snapshot(api, width=640, height=480, source="internal")


# -- camera/snapshot: the picture --------------------------------------------------------------


async def test_successive_snapshots_differ(api):
    first = await snapshot(api, width=320, height=240)
    await asyncio.sleep(0.25)
    second = await snapshot(api, width=320, height=240)
    assert first != second
    # Not just different bytes: the picture itself changed (the time, the moving bar).
    assert mean_difference(decode(first), decode(second)) > 0.1


async def test_the_picture_moves_with_device_time(make_emulator, make_client):
    clock = VirtualClock()
    api = make_client(await make_emulator(clock=clock))
    first = await snapshot(api, width=640, height=480)
    assert await snapshot(api, width=640, height=480) == first  # time stands still: the same frame
    clock.advance(1.0)
    later = decode(await snapshot(api, width=640, height=480))
    assert mean_difference(decode(first), later) > 0.1


async def test_internal_and_external_sources_look_different(make_emulator, make_client):
    api = make_client(await make_emulator(clock=VirtualClock()))
    for width, height in [(160, 120), (640, 480), (1280, 720)]:
        internal = decode(await snapshot(api, width=width, height=height, source="internal"))
        external = decode(await snapshot(api, width=width, height=height, source="external"))
        # Well above JPEG noise: a different picture, not a re-encode.
        assert mean_difference(internal, external) > 2, (width, height)


async def test_motion_shows_in_the_picture(make_emulator, make_client):
    emu = await make_emulator(clock=VirtualClock())
    api = make_client(emu)
    width, height = 640, 480
    quiet = await snapshot(api, width=width, height=height)
    emu.device.set_motion(True)
    moving = await snapshot(api, width=width, height=height)
    assert moving != quiet
    # The figure stands in the right part of the scene while motion is "in".
    figure = (int(width * 0.5), int(height * 0.3), int(width * 0.9), int(height * 0.9))
    assert mean_difference(decode(quiet), decode(moving), figure) > 1
    emu.device.set_motion(False)
    assert await snapshot(api, width=width, height=height) == quiet  # gone again


async def test_motion_shows_at_every_size(make_emulator, make_client):
    emu = await make_emulator(clock=VirtualClock())
    api = make_client(emu)
    quiet = {size: await snapshot(api, width=size[0], height=size[1]) for size in VERSO_SIZES}
    emu.device.set_motion(True)
    for (width, height), before in quiet.items():
        after = await snapshot(api, width=width, height=height)
        assert mean_difference(decode(before), decode(after)) > 0.05, (width, height)


# -- lenient_resolution ------------------------------------------------------------------------


async def test_lenient_resolution_answers_the_nearest_listed_size(make_emulator, make_client, tmp_path):
    api = make_client(await make_emulator(profile=lenient_profile(tmp_path)))
    # Home Assistant probes 80x80: the smallest listed size comes back instead of error 12.
    assert decode(await snapshot(api, width=80, height=80)).size == (160, 120)
    assert decode(await snapshot(api, width=641, height=481)).size == (640, 480)
    assert decode(await snapshot(api, width=1920, height=1080)).size == (1280, 960)
    # Listed sizes are still served exactly.
    for width, height in VERSO_SIZES:
        assert decode(await snapshot(api, width=width, height=height)).size == (width, height)
    # Lenient about sizes only: the parameters are still required and checked.
    assert (await api.get("/api/camera/snapshot", width=80)).error["code"] == 11
    reply = await api.get("/api/camera/snapshot", width=80, height=80, source="front")
    assert reply.error["param"] == "source"


async def test_lenient_resolution_is_off_by_default(make_emulator, make_client, tmp_path):
    for settings in [{}, {"profile": lenient_profile(tmp_path, lenient=False)}]:
        api = make_client(await make_emulator(**settings))
        reply = await api.get("/api/camera/snapshot", width=80, height=80)
        assert reply.content_type == "application/json"
        assert reply.error["code"] == 12 and reply.error["param"] == "width"
