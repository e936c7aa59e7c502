"""Photos and files from a phone, in a real Chromium against a real server (issue 15): a
12-megapixel photo with GPS in its EXIF is picked, shrunk on the phone, uploaded with a progress
bar and sent with a caption; an employee sees it live, and what the server serves has no GPS.
A photo sent in a dead zone waits in the outbox, also with the app closed, and arrives once and
in order; a file the server refuses says why; the full-screen viewer; the README's screenshot."""

from __future__ import annotations

import base64
import io
import re
import uuid
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest
from PIL import Image
from playwright.sync_api import Page, expect

from server.images import ACCEPT
from tests.live import LiveServer
from tests.photos import METER_PHOTO, gps_of, png_with_alpha, svg_with_script
from tests.test_browser import (
    JAN,
    OUTAGE,
    PHONE,
    SCREENSHOTS,
    TABLET_EN_DARK,
    WEBER,
    confirmed,
    message,
    newest_message_on_screen,
    no_horizontal_overflow,
    open_thread,
    thread_id,
    write,
)
from tests.test_browser_field import DESK
from tests.test_pwa import Devices, stored_bodies, visit_online, wait_outbox

pytestmark = pytest.mark.browser

MAX_SIDE_PX = 2048  # what attach.js shrinks a photo to
METER_UPRIGHT = (1536, 2048)  # the fixture is 3024×4032 as displayed (stored turned, EXIF 6)
SLOW_UPLINK_BYTES_PER_S = 150_000  # one bar of 3G: the progress bar has time to show
TRAY = "#attach-tray .tray-item"


@pytest.fixture
def devices(own_server_devices: Devices) -> Devices:
    """Browsers on a demo server of this test's own; no JavaScript errors allowed."""
    return own_server_devices


# -- helpers ----------------------------------------------------------------------------------


def stored_messages(server: LiveServer, email: str, tid: str) -> list[dict[str, Any]]:
    """The messages the server has in a thread (newest first), with their attachments."""
    r = httpx.get(
        f"{server.url}/api/v1/threads/{tid}/messages?limit=100",
        headers={"Authorization": f"Bearer {server.token(email)}"},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    return list(r.json()["messages"])


def post_photo(server: LiveServer, email: str, tid: str, caption: str) -> dict[str, Any]:
    """Upload the meter photo and send it with a caption through the API (as another app
    would); return the stored message."""
    headers = {"Authorization": f"Bearer {server.token(email)}"}
    r = httpx.post(
        f"{server.url}/api/v1/threads/{tid}/attachments",
        headers={**headers, "Content-Type": "image/jpeg", "X-File-Name": "meter.jpg",
                 "X-Client-Id": uuid.uuid4().hex},
        content=METER_PHOTO.read_bytes(),
        timeout=30,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    att = r.json()["attachment"]
    r = httpx.post(
        f"{server.url}/api/v1/threads/{tid}/messages",
        headers=headers,
        json={"body": caption, "client_id": uuid.uuid4().hex, "attachments": [att["id"]]},
        timeout=10,
    )
    assert r.status_code == 201, r.text
    return dict(r.json()["message"])


def image_size(data: bytes) -> tuple[int, int]:
    with Image.open(io.BytesIO(data)) as im:
        return im.size


def slow_uplink(page: Page) -> Any:
    """Throttle the page's uploads (Chromium's network emulation); return the CDP session."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": 20, "downloadThroughput": -1,
         "uploadThroughput": SLOW_UPLINK_BYTES_PER_S},
    )  # fmt: skip
    return cdp


# Keeps what the page uploads (Chromium does not hand a Blob body to the test's network view).
RECORD_UPLOADS = """
(() => {
  window.__uploads = [];
  const send = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.send = function (body) {
    if (body instanceof Blob) window.__uploads.push(body);
    return send.call(this, body);
  };
})();
"""
UPLOADED = """(i) => new Promise((resolve) => {
  const reader = new FileReader();
  reader.onload = () => resolve(reader.result.split(",")[1]);
  reader.readAsDataURL(window.__uploads[i]);
})"""
UPLOAD_IN_PROGRESS = """() => {
  const bar = document.querySelector("#attach-tray .tray-progress");
  return bar !== null && !bar.hidden && bar.value > 0 && bar.value < 1;
}"""


# -- pick, shrink, upload, send ----------------------------------------------------------------


def test_a_phone_photo_is_shrunk_uploaded_with_progress_sent_live_and_served_without_gps(
    devices: Devices,
) -> None:
    server = devices.server
    customer = devices.open(WEBER, PHONE, RECORD_UPLOADS)
    tid = thread_id(customer, OUTAGE)
    staff = devices.open(JAN, TABLET_EN_DARK)
    open_thread(staff, tid)
    open_thread(customer, tid)
    assert customer.locator("#attach-input").get_attribute("accept") == ACCEPT
    picker = customer.get_by_role("button", name="Add photo or file")
    box = picker.bounding_box()
    assert box and box["width"] >= 44 and box["height"] >= 44, box

    cdp = slow_uplink(customer)
    with customer.expect_request(lambda r: r.url.endswith(f"/threads/{tid}/attachments")) as up:
        customer.set_input_files("#attach-input", METER_PHOTO)
        row = customer.locator(TRAY)
        expect(row).to_have_count(1)
        expect(row.locator(".tray-thumb")).to_be_visible()
        customer.wait_for_function(UPLOAD_IN_PROGRESS)  # the bar moves while the photo goes
    expect(row).to_have_attribute("data-state", "ready", timeout=30_000)
    cdp.detach()

    # Shrunk on the phone: upright, at most 2,048 px, smaller, and without the EXIF's GPS.
    sent = base64.b64decode(customer.evaluate(UPLOADED, 0))
    assert image_size(sent) == METER_UPRIGHT
    assert len(sent) < METER_PHOTO.stat().st_size
    assert gps_of(sent) is None
    assert up.value.headers["x-file-name"] == "meter-gps.jpg"

    caption = f"The meter's display after the outage ({uuid.uuid4().hex[:6]})"
    write(customer, caption)
    expect(customer.locator("#attach-tray")).to_be_hidden()
    confirmed(customer, caption)
    shown = message(staff, caption).locator("a.att-open")
    expect(shown).to_have_count(1)  # live, without a reload
    expect(shown.locator("img")).to_have_js_property("complete", True)

    stored = [m for m in stored_messages(server, JAN, tid) if m["body"] == caption]
    assert len(stored) == 1 and len(stored[0]["attachments"]) == 1, stored
    served = staff.request.get(shown.get_attribute("href") or "")
    assert served.ok, served.status
    assert gps_of(served.body()) is None
    assert max(image_size(served.body())) <= MAX_SIDE_PX


# -- offline, with the app closed -----------------------------------------------------------------


def test_a_photo_sent_offline_waits_with_its_message_and_arrives_once_in_order_after_a_restart(
    devices: Devices,
) -> None:
    server = devices.server
    customer = devices.open(WEBER)
    tid = thread_id(customer, OUTAGE)
    visit_online(customer, tid)
    staff = devices.open(JAN, TABLET_EN_DARK)
    open_thread(staff, tid)
    ctx = customer.context

    ctx.set_offline(True)
    customer.reload()  # the saved copy, without a socket
    expect(customer.locator("#conn")).to_have_attribute("data-state", "offline")
    tag = uuid.uuid4().hex[:6]
    before, caption = (
        f"Cellar, no signal ({tag}): photo follows",
        f"The meter in the cellar ({tag})",
    )
    write(customer, before)
    wait_outbox(customer, 1)
    customer.set_input_files("#attach-input", METER_PHOTO)
    expect(customer.locator(TRAY)).to_have_attribute("data-state", "waiting")
    write(customer, caption)
    pending = customer.locator("#messages > li.pending", has_text=caption)
    expect(pending.locator(".pending-attachments img")).to_have_count(1)  # the phone's own copy
    expect(pending.locator(".state")).to_have_text("waiting for connection")
    wait_outbox(customer, 2)
    kept = customer.evaluate(
        """() => Outbox.all().then(items => items.map(i => (i.files || []).map(
             f => ({id: f.id, size: f.blob.size, type: f.type, name: f.name}))))"""
    )
    assert kept[0] == [], kept
    [photo] = kept[1]
    assert (
        photo["id"] is None and photo["type"] == "image/jpeg" and photo["name"] == "meter-gps.jpg"
    )
    assert 0 < photo["size"] < METER_PHOTO.stat().st_size  # shrunk before it was kept
    customer.close()  # the app is closed in the dead zone
    assert caption not in stored_bodies(server, WEBER, tid)

    ctx.set_offline(False)
    again = ctx.new_page()
    open_thread(again, tid)
    confirmed(again, caption)
    expect(message(again, caption).locator("a.att-open img")).to_have_count(1)
    expect(message(staff, caption).locator("a.att-open")).to_have_count(1)
    wait_outbox(again, 0)
    stored = stored_messages(server, JAN, tid)
    bodies = [m["body"] for m in stored]
    assert bodies.count(before) == 1 and bodies.count(caption) == 1
    assert bodies.index(caption) < bodies.index(before)  # newest first: the photo came after
    [sent] = [m for m in stored if m["body"] == caption]
    assert len(sent["attachments"]) == 1
    again.reload()
    confirmed(again, caption)


# -- a refused file -------------------------------------------------------------------------------


def test_a_file_the_server_refuses_says_why_offers_retry_and_remove_and_holds_the_message(
    devices: Devices, tmp_path: Path
) -> None:
    server = devices.server
    drawing = tmp_path / "drawing.svg"
    drawing.write_bytes(svg_with_script())
    customer = devices.open(WEBER)
    tid = thread_id(customer, OUTAGE)
    open_thread(customer, tid)
    before = stored_bodies(server, WEBER, tid)

    customer.set_input_files("#attach-input", drawing)
    row = customer.locator(TRAY)
    expect(row).to_have_attribute("data-state", "failed")
    expect(row.locator(".tray-state")).to_have_text("not accepted")
    expect(row.locator(".tray-error")).to_contain_text("PDF")  # the list of what is allowed
    retry = row.get_by_role("button", name="Retry")
    remove = row.get_by_role("button", name="Remove")
    for button in (retry, remove):
        box = button.bounding_box()
        assert box and box["width"] >= 44 and box["height"] >= 44, box

    text = f"Here is the drawing ({uuid.uuid4().hex[:6]})"
    write(customer, text)  # held: the file must be retried or removed first
    expect(customer.locator("#form-error")).to_contain_text("retry or remove it")
    expect(customer.locator("#messages > li.pending")).to_have_count(0)
    expect(customer.locator("#body")).to_have_value(text)
    retry.click()
    expect(row).to_have_attribute("data-state", "failed")  # refused again, still saying why
    expect(row.locator(".tray-error")).to_contain_text("PDF")
    remove.click()
    expect(customer.locator("#attach-tray")).to_be_hidden()
    assert stored_bodies(server, WEBER, tid) == before

    customer.locator("#composer button[type=submit]").click()  # the text alone goes now
    confirmed(customer, text)
    [sent] = [m for m in stored_messages(server, WEBER, tid) if m["body"] == text]
    assert sent["attachments"] == []


def test_a_file_refused_when_the_outbox_delivers_it_fails_the_message_and_edit_brings_both_back(
    devices: Devices, tmp_path: Path
) -> None:
    server = devices.server
    drawing = tmp_path / "drawing.svg"
    drawing.write_bytes(svg_with_script())
    customer = devices.open(WEBER)
    tid = thread_id(customer, OUTAGE)
    visit_online(customer, tid)
    before = stored_bodies(server, WEBER, tid)

    customer.context.set_offline(True)
    customer.reload()
    expect(customer.locator("#conn")).to_have_attribute("data-state", "offline")
    customer.set_input_files("#attach-input", drawing)  # can't be asked about yet: it waits
    expect(customer.locator(TRAY)).to_have_attribute("data-state", "waiting")
    text = f"The drawing of the cellar ({uuid.uuid4().hex[:6]})"
    write(customer, text)
    wait_outbox(customer, 1)

    customer.context.set_offline(False)  # the outbox uploads it: the server refuses it
    failed = customer.locator("#messages > li.failed", has_text=text)
    expect(failed.locator(".state")).to_contain_text("not sent: drawing.svg: ")
    expect(failed.locator(".state")).to_contain_text("PDF")
    assert customer.evaluate("() => Outbox.all().then(items => items[0].state)") == "failed"
    failed.get_by_role("button", name="Edit").click()
    expect(customer.locator("#body")).to_have_value(text)
    expect(customer.locator(TRAY)).to_have_attribute("data-state", "failed")  # says why again
    wait_outbox(customer, 0)
    assert stored_bodies(server, WEBER, tid) == before


# -- at a desk: paste and drop --------------------------------------------------------------------

ADD_FILE = """([how, b64, name, type]) => {
  const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
  const data = new DataTransfer();
  data.items.add(new File([bytes], name, { type }));
  if (how === "paste") {
    const init = { clipboardData: data, bubbles: true, cancelable: true };
    document.getElementById("body").dispatchEvent(new ClipboardEvent("paste", init));
    return;
  }
  const target = document.getElementById("messages");
  for (const kind of ["dragover", "drop"]) {
    const init = { dataTransfer: data, bubbles: true, cancelable: true };
    target.dispatchEvent(new DragEvent(kind, init));
  }
}"""


def test_at_a_desk_a_pasted_cut_out_and_a_dropped_photo_go_without_a_caption_in_that_order(
    devices: Devices,
) -> None:
    server = devices.server
    page = devices.open(WEBER, DESK, RECORD_UPLOADS)
    tid = thread_id(page, OUTAGE)
    open_thread(page, tid)
    cut_out = base64.b64encode(png_with_alpha(3000, 2000)).decode()
    page.evaluate(ADD_FILE, ["paste", cut_out, "cut-out.png", "image/png"])
    expect(page.locator(TRAY)).to_have_count(1)
    photo = base64.b64encode(METER_PHOTO.read_bytes()).decode()
    page.evaluate(ADD_FILE, ["drop", photo, "meter.jpg", "image/jpeg"])
    rows = page.locator(TRAY)
    expect(rows).to_have_count(2)
    for i in range(2):
        expect(rows.nth(i)).to_have_attribute("data-state", "ready")
    uploads = [base64.b64decode(page.evaluate(UPLOADED, i)) for i in range(2)]
    shapes = {}
    for data in uploads:
        with Image.open(io.BytesIO(data)) as im:
            shapes[im.format] = (im.size, im.mode)
    # The cut-out stays a PNG (a JPEG has no transparency), shrunk like the photo.
    assert shapes == {"PNG": ((2048, 1365), "RGBA"), "JPEG": (METER_UPRIGHT, "RGB")}, shapes

    page.locator("#composer button[type=submit]").click()  # no caption: the photos say it
    expect(page.locator("#messages > li.pending")).to_have_count(0)
    newest = stored_messages(server, WEBER, tid)[0]
    assert newest["body"] == ""
    assert [a["name"] for a in newest["attachments"]] == ["cut-out.png", "meter.jpg"], newest
    shown = page.locator("#messages > li").last.locator("a.att-open")
    expect(shown).to_have_count(2)


# -- the viewer, the screenshot -----------------------------------------------------------------


def test_a_tap_on_a_photo_opens_it_full_screen_and_escape_closes_it(devices: Devices) -> None:
    server = devices.server
    customer = devices.open(WEBER)
    tid = thread_id(customer, OUTAGE)
    caption = f"Meter display, error E-07 ({uuid.uuid4().hex[:6]})"
    post_photo(server, JAN, tid, caption)
    open_thread(customer, tid)
    thumb = message(customer, caption).locator("a.att-open")
    expect(thumb.locator("img")).to_have_js_property("complete", True)
    assert customer.locator("link[rel=stylesheet]").count() == 1  # the viewer's loads on a tap

    thumb.tap()
    viewer = customer.locator(".pswp")
    expect(viewer).to_be_visible()
    full = viewer.locator(".pswp__img:not(.pswp__img--placeholder)")
    href = thumb.get_attribute("href") or "-"
    expect(full).to_have_attribute("src", re.compile(re.escape(href) + "$"))
    expect(full).to_have_js_property("complete", True)
    customer.keyboard.press("Escape")
    expect(viewer).to_have_count(0)
    expect(message(customer, caption)).to_be_visible()  # back in the thread, where it was


def test_screenshot_of_a_thread_with_a_photo_on_a_phone(devices: Devices) -> None:
    """Regenerate docs/screenshots/phone-photo.png (the README shows it)."""
    server = devices.server
    customer = devices.open(WEBER, PHONE)
    tid = thread_id(customer, OUTAGE)
    post_photo(server, WEBER, tid, "So sieht mein Zähler seit heute früh aus – Fehler E-07.")
    open_thread(customer, tid)
    photo = customer.locator("#messages > li").last.locator("a.att-open img")
    expect(photo).to_have_js_property("complete", True)
    customer.locator("#body").fill("Muss ich etwas tun?")
    newest_message_on_screen(customer)
    no_horizontal_overflow(customer)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    png = SCREENSHOTS / "phone-photo.png"
    customer.screenshot(path=png)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size < 400_000, f"{png.name} is too large for the README"
