"""What the server keeps of an upload: photos re-encoded upright and without their metadata,
files only when their bytes are an allowed kind, and a clear refusal for everything else."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image, ImageCms

from server.errors import ActionError
from server.images import (
    ACCEPT,
    ALLOWED_LABEL,
    DRAFT_MIN_SHARE,
    IMAGE_MAX_SIDE_PX,
    MAX_NAME_CHARS,
    THUMB_MAX_SIDE_PX,
    Processed,
    process,
)
from tests.photos import (
    METER_PHOTO,
    animated_gif,
    decompression_bomb,
    docx,
    fake_jpeg,
    gps_of,
    make_heic,
    odf,
    ole2,
    ooxml,
    pdf,
    plain_zip,
    png_with_alpha,
    svg_with_script,
)


def refusal(raw: bytes, name: str) -> ActionError:
    """Return the ActionError `process` raises for this upload."""
    with pytest.raises(ActionError) as caught:
        process(raw, name)
    return caught.value


def decoded(data: bytes) -> Image.Image:
    """Open stored image bytes."""
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.fixture(scope="module")
def meter() -> Processed:
    """The fixture photo (GPS in its EXIF, stored sideways with Orientation 6), processed."""
    raw = METER_PHOTO.read_bytes()
    assert gps_of(raw) is not None  # the fixture really carries what must go
    return process(raw, "IMG_4711.JPG")


def test_gps_exif_and_comments_are_gone_from_what_is_stored(meter: Processed) -> None:
    assert gps_of(meter.data) is None
    assert meter.thumb is not None and gps_of(meter.thumb) is None
    for data in [meter.data, meter.thumb]:
        image = decoded(data)
        assert dict(image.getexif()) == {}
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info)
        assert b"Hafenstrasse" not in data and b"iPhone" not in data and b"Apple" not in data


def test_orientation_is_applied_and_the_photo_shrunk(meter: Processed) -> None:
    # 4032×3024 pixels with "turn right" in the EXIF: a portrait photo, shrunk to at most 2048
    # tall (2016: decoded at half size, which still gives 90 % of it).
    assert meter.width is not None and meter.height is not None
    assert meter.height * 3 == meter.width * 4
    assert IMAGE_MAX_SIDE_PX * DRAFT_MIN_SHARE <= meter.height <= IMAGE_MAX_SIDE_PX
    image = decoded(meter.data)
    assert image.size == (meter.width, meter.height) and image.format == "JPEG"
    # Upright, the meter's green display is in the upper half, its grey label plate below it;
    # turned the wrong way round, the plate would be where the display is.
    display = image.getpixel((image.width // 2, image.height * 41 // 100))
    plate = image.getpixel((image.width // 2, image.height * 59 // 100))
    assert isinstance(display, tuple) and isinstance(plate, tuple)
    assert display[1] > display[0] + 10 and display[1] > display[2] + 20
    assert abs(plate[1] - plate[0]) < 10 and abs(plate[1] - plate[2]) < 10
    assert meter.content_type == "image/jpeg" and meter.kind == "image"
    assert meter.name == "IMG_4711.JPG"


def test_the_stored_photo_is_small_for_a_data_plan(meter: Processed) -> None:
    assert len(meter.data) < min(600_000, len(METER_PHOTO.read_bytes()) // 2)


def test_thumbnail_and_placeholder_are_present_and_small(meter: Processed) -> None:
    assert meter.thumb is not None
    thumb = decoded(meter.thumb)
    assert thumb.size == (360, THUMB_MAX_SIDE_PX)
    assert thumb.format == "JPEG" and len(meter.thumb) < 60_000
    prefix = "data:image/webp;base64,"
    assert meter.placeholder.startswith(prefix) and len(meter.placeholder) <= 600
    tiny = decoded(base64.b64decode(meter.placeholder.removeprefix(prefix)))
    assert max(tiny.size) <= 16 and tiny.size[0] < tiny.size[1]  # portrait, like the photo


def test_a_heic_photo_is_accepted_and_converted_to_jpeg() -> None:
    stored = process(make_heic(640, 480), "IMG_0042.HEIC")
    assert (stored.kind, stored.content_type, stored.name) == (
        "image",
        "image/jpeg",
        "IMG_0042.jpg",
    )
    assert decoded(stored.data).format == "JPEG"
    assert (stored.width, stored.height) == (640, 480)


def test_a_colour_profile_is_applied_and_not_shipped() -> None:
    # A photo tagged with a wide-gamut profile (here: a Lab one, for a visible shift) is
    # converted to sRGB, the browsers' default, and stored without any profile.
    lab = ImageCms.ImageCmsProfile(ImageCms.createProfile("LAB")).tobytes()
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(out, "JPEG", icc_profile=lab)
    stored = process(out.getvalue(), "wide.jpg")
    image = decoded(stored.data)
    assert "icc_profile" not in image.info
    assert stored.thumb is not None and "icc_profile" not in decoded(stored.thumb).info
    broken = io.BytesIO()
    Image.new("RGB", (300, 200), (200, 30, 30)).save(broken, "JPEG", icc_profile=b"nonsense" * 20)
    assert "icc_profile" not in decoded(process(broken.getvalue(), "odd.jpg").data).info


def test_a_large_png_is_shrunk_to_the_longest_side_exactly() -> None:
    out = io.BytesIO()
    Image.new("RGB", (4000, 1000), (200, 100, 50)).save(out, "PNG")
    stored = process(out.getvalue(), "panorama.png")
    assert (stored.width, stored.height) == (IMAGE_MAX_SIDE_PX, 512)


def test_a_png_with_transparency_stays_png() -> None:
    stored = process(png_with_alpha(), "logo.png")
    assert (stored.content_type, stored.name) == ("image/png", "logo.png")
    image = decoded(stored.data)
    assert image.mode == "RGBA" and image.getpixel((0, 0)) == (0, 0, 0, 0)
    assert stored.thumb is not None and decoded(stored.thumb).format == "JPEG"


def test_an_opaque_png_becomes_a_jpeg() -> None:
    out = io.BytesIO()
    Image.new("RGBA", (400, 300), (10, 120, 200, 255)).save(out, "PNG")
    stored = process(out.getvalue(), "screenshot.png")
    assert (stored.content_type, stored.name) == ("image/jpeg", "screenshot.jpg")


def test_an_animated_gif_keeps_its_first_frame() -> None:
    stored = process(animated_gif(), "funny.gif")
    image = decoded(stored.data)
    assert getattr(image, "n_frames", 1) == 1
    red, green, blue = image.getpixel((60, 40))  # type: ignore[misc]
    assert red > 200 and green < 50 and blue < 50


def test_a_decompression_bomb_is_refused_before_decoding() -> None:
    assert len(decompression_bomb()) < 10_000
    error = refusal(decompression_bomb(), "innocent.png")
    assert error.code == "image_too_large" and "50 megapixels" in error.message
    # Over our limit but under Pillow's own: refused by ours, no warning either way.
    assert refusal(decompression_bomb(10_000, 6_000), "60mp.png").code == "image_too_large"
    # Over Pillow's warning threshold (89 MP): its warning is handled, not raised.
    assert refusal(decompression_bomb(10_000, 10_000), "100mp.png").code == "image_too_large"


def test_a_48_megapixel_phone_photo_passes() -> None:
    out = io.BytesIO()
    Image.new("RGB", (8000, 6000), (90, 90, 90)).save(out, "JPEG", quality=50)
    stored = process(out.getvalue(), "big.jpg")
    assert (stored.width, stored.height) == (2000, 1500)  # decoded at 1/4 size


def test_a_file_that_claims_to_be_a_jpeg_but_is_not_is_refused() -> None:
    error = refusal(fake_jpeg(), "meter.jpg")
    assert error.code == "not_an_image" and "meter.jpg" in error.message
    broken = METER_PHOTO.read_bytes()[:5000]  # a JPEG cut off: the start is right, the rest gone
    assert refusal(broken, "cut.jpg").code == "not_an_image"


def test_an_svg_with_script_is_refused_with_the_list_of_what_is_allowed() -> None:
    for name in ["drawing.svg", "drawing.png", "drawing"]:
        error = refusal(svg_with_script(), name)
        expected = "not_an_image" if name.endswith(".png") else "unsupported_type"
        assert error.code == expected
    error = refusal(svg_with_script(), "drawing.svg")
    assert ALLOWED_LABEL in error.message


def test_an_empty_file_is_refused() -> None:
    assert refusal(b"", "empty.pdf").code == "empty_file"


@pytest.mark.parametrize(
    "name",
    [
        "../../etc/passwd",
        "folder/photo.jpg",
        "C:\\Users\\me\\photo.jpg",
        "a" * 1000 + ".jpg",
        "photo\x00.jpg",
        "line\nbreak.jpg",
        "photo\u202egpj.exe",  # right-to-left override: shows as "photoexe.jpg"
        "",
        "   ",
    ],
)
def test_bad_names_are_refused(name: str) -> None:
    assert refusal(pdf(), name).code == "bad_name"


def test_a_name_of_255_characters_is_fine_and_the_extension_follows_the_content() -> None:
    assert process(pdf(), "x" * (MAX_NAME_CHARS - 4) + ".pdf").name.endswith(".pdf")
    assert process(pdf(), "Rechnung März").name == "Rechnung März.pdf"
    assert process(pdf(), "invoice.exe").name == "invoice.pdf"
    assert process(png_with_alpha(), "logo.jpg").name == "logo.png"
    nfd = "Zählerstand.pdf".replace("ä", "a\u0308")  # as macOS spells it
    assert process(pdf(), nfd).name == "Zählerstand.pdf"


OOXML = "application/vnd.openxmlformats-officedocument."
WORD_TEMPLATE = OOXML + "wordprocessingml.template.main+xml"
WORD_WITH_MACROS = "application/vnd.ms-word.document.macroEnabled.main+xml"


@pytest.mark.parametrize(
    ("raw", "name", "content_type"),
    [
        (docx(), "Angebot.docx", OOXML + "wordprocessingml.document"),
        (ooxml("xlsx"), "Zähler.xlsx", OOXML + "spreadsheetml.sheet"),
        (ooxml("pptx"), "slides.pptx", OOXML + "presentationml.presentation"),
        (odf("odt"), "brief.odt", "application/vnd.oasis.opendocument.text"),
        (odf("ods"), "tabelle.ods", "application/vnd.oasis.opendocument.spreadsheet"),
        (odf("odp"), "folien.odp", "application/vnd.oasis.opendocument.presentation"),
        (pdf(), "manual.pdf", "application/pdf"),
        (ole2("WordDocument"), "old.doc", "application/msword"),
        (ole2("Workbook"), "old.xls", "application/vnd.ms-excel"),
        (ole2("PowerPoint Document"), "old.ppt", "application/vnd.ms-powerpoint"),
        ("Zählerstand: 04712,8\n".encode(), "notes.txt", "text/plain; charset=utf-8"),
        (b"date,reading\n2026-11-30,4712.8\n", "readings.csv", "text/csv; charset=utf-8"),
    ],
)  # fmt: skip
def test_office_files_pdf_and_text_are_kept_as_they_are(
    raw: bytes, name: str, content_type: str
) -> None:
    stored = process(raw, name)
    assert (stored.kind, stored.content_type, stored.name) == ("file", content_type, name)
    assert stored.data == raw and stored.thumb is None and stored.placeholder == ""


def test_office_kind_comes_from_the_content_not_the_name() -> None:
    stored = process(ooxml("xlsx"), "report.docx")
    assert stored.name == "report.xlsx" and "spreadsheetml" in stored.content_type


@pytest.mark.parametrize(
    ("raw", "name"),
    [
        (plain_zip(), "archive.zip"),
        (plain_zip(), "looks-like.docx"),  # a ZIP without [Content_Types].xml
        (ooxml("docx", WORD_TEMPLATE), "t.docx"),
        (ooxml("docx", WORD_WITH_MACROS), "m.docx"),
        (ole2("__substg1.0_0037001F"), "mail.msg"),  # OLE2, but an Outlook message
        (b"MZ\x90\x00" + bytes(200), "setup.exe"),
        (b"<html><script>alert(1)</script></html>", "page.html"),
        (b"<html><script>alert(1)</script></html>", "page.htm.txt.html"),
        (b"text\x00with\x00nul", "data.txt"),
        (b"\xff\xfe\x00latin-1 \xe9", "latin1.csv"),
        (b"plain words", "notes.md"),  # text, but not a kind we take
    ],
)  # fmt: skip
def test_other_files_are_refused_as_unsupported(raw: bytes, name: str) -> None:
    error = refusal(raw, name)
    assert error.code == "unsupported_type", error.message
    assert ALLOWED_LABEL in error.message


def test_accept_offers_photos_heic_pdf_office_and_text() -> None:
    offered = ACCEPT.split(",")
    for wanted in ["image/*", ".heic", ".heif", "application/pdf", ".docx", ".xlsx", ".pptx",
                   ".odt", ".ods", ".odp", ".doc", ".xls", ".ppt", ".txt", ".csv"]:  # fmt: skip
        assert wanted in offered
    assert not any(".svg" in item or "zip" in item for item in offered)
