"""The front panel (/_emulator/ui) in a real browser: Debian's Chromium driven by Selenium through
Debian's chromedriver (no driver or browser downloaded at test time).

A person presses the doorbell on the page and sees the call; swipes a card and sees the switch
light and the event arrive; adds a fault; reads why a request was refused; gives the control
token when the emulator wants one. The page never shows a password.

Set HELIOS_SCREENSHOT=path to keep the screenshot the last test takes (docs/front-panel.png is made
this way).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from PIL import Image, ImageDraw
from requests.auth import HTTPDigestAuth

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install '.[test]')")
from selenium.common.exceptions import WebDriverException  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import Select, WebDriverWait  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--window-size=1600,1640"]
WAIT = 15  # seconds a condition may take to show on the page (a loaded CI machine is slow)

pytestmark = pytest.mark.skipif(not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
                                reason="no Chromium and chromedriver here (apt-get install chromium chromium-driver)")


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="helios-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    try:
        driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    except WebDriverException as exc:
        shutil.rmtree(profile, ignore_errors=True)
        pytest.skip(f"Chromium does not start here: {exc.msg}")
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


class Page:
    def __init__(self, driver: webdriver.Chrome, url: str | None):
        """Open the page (at `url`, or the one already open) and wait until it shows the device."""
        self.driver = driver
        if url is not None:
            driver.get(url + "/_emulator/ui")
        self.until(lambda: self.find("online").text == "online")

    def find(self, testid: str):
        return self.driver.find_element(By.CSS_SELECTOR, f'[data-testid="{testid}"]')

    def all(self, css: str) -> list:
        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def click(self, testid: str) -> None:
        """Click it (again, when the page re-rendered it just then)."""
        self.until(lambda: self.find(testid).click() is None)

    def until(self, condition, message: str = "") -> None:
        WebDriverWait(self.driver, WAIT).until(lambda _: _quietly(condition), message)

    def texts(self, css: str) -> list[str]:
        return [e.text for e in self.all(css)]


def _quietly(condition) -> bool:
    try:
        return bool(condition())
    except WebDriverException:  # an element re-rendered under us (stale), or not there yet: ask again
        return False


@pytest.mark.helios(clock="virtual")
def test_pressing_the_doorbell_shows_the_call_then_answering_it(helios, browser):
    page = Page(browser, helios.url)
    page.click("button-1")
    page.until(lambda: "connecting" in page.find("call-1").text, "the call did not appear")
    assert "sip:100@sip.example.com" in page.find("call-1").text
    helios.advance(1)  # ring_delay: connecting -> ringing
    page.until(lambda: "ringing" in page.find("call-1").text)
    page.click("answer-1")
    page.until(lambda: "connected" in page.find("call-1").text)
    assert [e["event"] for e in helios.journal("action", action="call")] == ["dial", "connected"]
    page.until(lambda: "CallStateChanged" in page.texts('[data-testid="events"] .name'))


@pytest.mark.helios(clock="virtual")
def test_a_card_lights_the_switch_and_its_event_arrives(helios, browser):
    page = Page(browser, helios.url)
    assert page.find("switch-1").get_attribute("data-on") == "false"
    uid = page.find("uid")
    uid.clear()
    uid.send_keys("1A2B3C4D")
    page.click("swipe")
    page.until(lambda: page.find("switch-1").get_attribute("data-on") == "true", "switch 1 did not light")
    page.until(lambda: "CardEntered" in page.texts('[data-testid="events"] .name'), "no CardEntered event")
    card = [e for e in page.all('[data-testid="events"] li') if "CardEntered" in e.text][0]
    assert 'uid="1A2B3C4D"' in card.text and "valid=true" in card.text
    assert page.find("result").text == "card 1A2B3C4D: valid"
    # Filtering by type keeps only that type.
    Select(page.find("event-filter")).select_by_value("CardEntered")
    page.until(lambda: {e.text.split("\n")[1] for e in page.all('[data-testid="events"] li') if e.is_displayed()}
               == {"CardEntered"})
    helios.advance(5)  # the monostable switch goes off again
    page.until(lambda: page.find("switch-1").get_attribute("data-on") == "false")


@pytest.mark.helios(clock="virtual")
def test_adding_a_fault_on_the_page(helios, browser):
    page = Page(browser, helios.url)
    Select(page.find("fault-kind")).select_by_value("status")
    browser.find_element(By.CSS_SELECTOR, '#fault-params input[name="status"]').send_keys("503")
    page.click("add-fault")
    page.until(lambda: page.all('[data-testid^="fault-"] b'), "the fault is not listed")
    [fault] = helios.emulator.faults.list()
    assert (fault.kind, fault.values["status"]) == ("status", 503)
    assert "#1 status" in page.find("faults").text
    assert requests.get(helios.url + "/api/system/info", timeout=10).status_code == 503
    page.until(lambda: "hits 1" in page.find("faults").text)


@pytest.mark.helios(clock="virtual")
def test_the_journal_says_why_a_request_was_refused_and_never_shows_a_password(helios, browser):
    page = Page(browser, helios.url)
    requests.get(helios.url + "/api/switch/caps", auth=HTTPDigestAuth("admin", "not-the-password"), timeout=10)
    page.until(lambda: "wrong password for 'admin'" in page.texts('[data-testid="reason"]'), "no reason shown")
    page.click("key-5")
    page.until(lambda: "KeyPressed" in page.texts('[data-testid="events"] .name'))
    source = browser.page_source
    assert "not-the-password" not in source
    assert ">2n<" not in source and '"2n"' not in source  # the admin's password, nowhere on the page


@pytest.mark.helios(clock="virtual")
def test_the_journal_shows_a_refused_rtsp_request_and_why(helios, browser):
    page = Page(browser, helios.url)
    host, port = helios.rtsp_url.split("/")[2].rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as rtsp:  # DESCRIBE without credentials
        rtsp.sendall(f"DESCRIBE {helios.rtsp_url} RTSP/1.0\r\nCSeq: 1\r\n\r\n".encode())
        assert rtsp.recv(4096).startswith(b"RTSP/1.0 401 ")
    page.until(lambda: "RTSP DESCRIBE refused: 401, no credentials" in page.texts("#journal .what"),
               "the refused RTSP request is not in the journal")


@pytest.mark.helios(clock="virtual", control_token="t0ken")
def test_the_page_asks_for_the_control_token(helios, browser):
    browser.get(helios.url + "/_emulator/ui")
    WebDriverWait(browser, WAIT).until(lambda d: d.find_element(By.ID, "token-dialog").is_displayed())
    browser.find_element(By.ID, "token").send_keys("t0ken\n")
    page = Page(browser, None)  # the page is open: wait for it to be online with the token
    page.click("key-1")
    page.until(lambda: "KeyPressed" in page.texts('[data-testid="events"] .name'))
    assert [e["params"]["key"] for e in helios.state()["events"] if e["event"] == "KeyPressed"] == ["1"]


@pytest.mark.helios(clock="virtual")
def test_inputs_toggle_and_the_screenshot(helios, browser, tmp_path):
    page = Page(browser, helios.url)
    page.click("port-input1")
    page.until(lambda: page.find("port-input1").get_attribute("data-on") == "true")
    assert [p["state"] for p in helios.state()["ports"] if p["port"] == "input1"] == [True]
    # A picture for the README: a doorbell call, a card, a refused request and a fault.
    page.click("button-1")
    page.click("swipe")
    requests.get(helios.url + "/api/switch/caps", auth=HTTPDigestAuth("admin", "wrong"), timeout=10)
    requests.get(helios.url + "/api/switch/ctrl", params={"switch": 2, "action": "on"},
                 auth=HTTPDigestAuth("admin", "2n"), timeout=10)
    helios.fault("delay", ms=300, path="/api/log/pull", times=5)
    display = helios.device.display
    requests.put(helios.url + "/api/display/image", params={"display": display.name},
                 files={"blob-image": ("hello.gif", welcome(display.width, display.height), "image/gif")},
                 auth=HTTPDigestAuth("admin", "2n"), timeout=10)
    page.until(lambda: page.find("display").get_attribute("src"))
    page.until(lambda: page.all('[data-testid="reason"]') and page.all('[data-testid="call-1"]'))
    page.until(lambda: "#1 delay" in page.find("faults").text)
    page.until(lambda: page.find("camera").get_attribute("src"))
    shot = tmp_path / "front-panel.png"
    browser.save_screenshot(str(shot))
    assert shot.read_bytes().startswith(b"\x89PNG")
    if os.environ.get("HELIOS_SCREENSHOT"):
        shutil.copyfile(shot, Path(os.environ["HELIOS_SCREENSHOT"]))


def welcome(width: int, height: int) -> bytes:
    """A GIF for the display: what an integration might upload."""
    image = Image.new("P", (width, height), 0)
    image.putpalette([15, 23, 42, 56, 189, 248, 226, 232, 240] + [0] * 759)
    draw = ImageDraw.Draw(image)
    draw.rectangle((8, 8, width - 9, height - 9), outline=1, width=3)
    draw.text((width // 2, height // 2 - 14), "Welcome", fill=2, anchor="mm", font_size=28)
    draw.text((width // 2, height // 2 + 20), "press 1 for the reception", fill=1, anchor="mm", font_size=14)
    out = io.BytesIO()
    image.save(out, "GIF")
    return out.getvalue()
