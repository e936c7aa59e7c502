"""Turning an upload into what is stored: photos re-encoded without their metadata, files
checked to be what they claim. CPU work: callers run `process` off the event loop.

What an upload is comes from its bytes, never from its name or claimed type; the name only
tells text from CSV, and a file posing as a photo (`not_an_image`, not `unsupported_type`).
"""

from __future__ import annotations

import base64
import io
import math
import re
import unicodedata
import zipfile
from dataclasses import dataclass
from typing import Literal

import pillow_heif
from PIL import ExifTags, Image, ImageCms, ImageFilter

from server.errors import ActionError
from server.i18n import N_

IMAGE_MAX_SIDE_PX = 2048  # what a phone screen (and a zoom on it) can show
THUMB_MAX_SIDE_PX = 480  # a thumbnail in the thread, sharp on a 3x phone at 160 CSS px
PLACEHOLDER_MAX_SIDE_PX = 16  # stretched and blurred by the browser: only the colours matter
# Quality 80 (4:2:0, progressive): on a phone screen indistinguishable from a camera's 90-95
# at about half the bytes (a 2048 px photo ≈ 250-450 KB on a data plan); below ~75 the edges of
# a meter's digits and a label's small print start to ring.
JPEG_QUALITY = 80
THUMB_JPEG_QUALITY = 70  # seen at 160 CSS px: artefacts don't show, bytes do (≈ 25-40 KB)
PLACEHOLDER_WEBP_QUALITY = 30  # 16 px, blurred: ≈ 100-200 bytes as a data: URL
# 48-megapixel phones (iPhone 15 Pro, Pixel 8 Pro) pass; a decompression bomb declaring more
# is refused from its header, before a byte is decoded (50 MP RGB = 150 MB while decoding).
MAX_PIXELS = 50_000_000
# A JPEG decoded at 1/2 (1/4, 1/8) size when that still gives 90 % of IMAGE_MAX_SIDE_PX: a
# 12 MP photo (4000 px) is stored 2000 px long instead of 2048, for a fifth of the CPU time
# and a quarter of the memory (bench/photos.py: 0.07 s and 44 MiB instead of 0.34 s, 175 MiB).
DRAFT_MIN_SHARE = 0.9
MAX_NAME_CHARS = 255  # what file systems keep, and what a row in the thread can show
OFFICE_XML_MAX_BYTES = 1 << 20  # [Content_Types].xml is a few KB; never inflate a zip bomb

# HEIC/HEIF (iPhone photos) through libheif; registered once, like Pillow's own plugins.
pillow_heif.register_heif_opener()

# Pillow's decoders tried on an upload: the formats phones and browsers send, nothing exotic
# (every extra decoder is attack surface). "JPEG" includes the multi-picture JPEGs (MPO) some
# phones write: Pillow's JPEG opener returns those itself.
IMAGE_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "HEIF")
# The major brands of HEIF stills and sequences (iPhones write "heic"; "mif1" is generic).
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})
IMAGE_EXTENSIONS = frozenset({"jpg", "jpeg", "jpe", "png", "webp", "gif", "heic", "heif", "hif"})

ALLOWED_LABEL = N_(
    "photos (JPEG, PNG, WebP, GIF, HEIC), PDF, Word, Excel, PowerPoint, OpenDocument, "
    "text and CSV files"
)

_OOXML = "application/vnd.openxmlformats-officedocument."
_ODF = "application/vnd.oasis.opendocument."
# Stored files: extension -> the Content-Type they are served with.
FILE_TYPES = {
    "pdf": "application/pdf",
    "docx": _OOXML + "wordprocessingml.document",
    "xlsx": _OOXML + "spreadsheetml.sheet",
    "pptx": _OOXML + "presentationml.presentation",
    "odt": _ODF + "text",
    "ods": _ODF + "spreadsheet",
    "odp": _ODF + "presentation",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "txt": "text/plain; charset=utf-8",
    "csv": "text/csv; charset=utf-8",
}
# The main part's type in an Office Open XML package; macro-enabled (docm…) and templates
# (dotx…) have other types and are refused.
_OOXML_MAIN = {
    _OOXML + "wordprocessingml.document.main+xml": "docx",
    _OOXML + "spreadsheetml.sheet.main+xml": "xlsx",
    _OOXML + "presentationml.presentation.main+xml": "pptx",
}
# The stream that names an old Office (OLE2) file's kind, as its directory entry spells it
# (UTF-16, NUL-terminated); an OLE2 file without one (an .msi installer, an Outlook .msg) is
# refused. "Book" (Excel 95) last: the shortest name, the likeliest to occur by chance.
_OLE2_STREAMS = {
    "WordDocument\0".encode("utf-16-le"): "doc",
    "Workbook\0".encode("utf-16-le"): "xls",
    "PowerPoint Document\0".encode("utf-16-le"): "ppt",
    "Book\0".encode("utf-16-le"): "xls",
}
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

ACCEPT = ",".join(
    ["image/*", ".heic", ".heif"]
    + [f".{ext}" for ext in FILE_TYPES]
    + sorted({content_type.split(";")[0] for content_type in FILE_TYPES.values()})
)

# Names: control characters, and the bidi controls that make "photo‮gpj.exe" read "photoexe.jpg".
_BAD_NAME_CHARS = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069/\\\\]")


@dataclass(frozen=True)
class Processed:
    """What to store for one upload."""

    kind: Literal["image", "file"]
    content_type: str  # of `data`, as served
    name: str  # the file name to show and to download as (cleaned; extension fixed)
    data: bytes
    thumb: bytes | None = None  # images: a JPEG thumbnail
    width: int | None = None
    height: int | None = None
    placeholder: str = ""  # images: a tiny blurred data: URL shown while the image loads


def process(raw: bytes, name: str) -> Processed:
    """Check and convert one upload; raise ActionError with a clear reason."""
    name = clean_name(name)
    if not raw:
        raise ActionError("empty_file", N_("the file {name!r} is empty"), name=name)
    if _looks_like_image(raw):
        return _process_image(raw, name)
    if _extension(name) in IMAGE_EXTENSIONS:
        raise _unreadable(name)
    kind = sniff_file(raw, name)
    if kind is None:
        raise ActionError(
            "unsupported_type",
            N_(
                "{name!r} cannot be sent: allowed are photos (JPEG, PNG, WebP, GIF, HEIC), PDF, "
                "Word, Excel, PowerPoint, OpenDocument, text and CSV files"
            ),
            name=name,
        )
    return Processed("file", FILE_TYPES[kind], with_extension(name, kind, {kind}), raw)


def clean_name(name: str) -> str:
    """Return the name to show (NFC, trimmed); refuse separators, controls, empty, too long."""
    cleaned = unicodedata.normalize("NFC", name).strip()
    if not cleaned or cleaned in {".", ".."}:
        raise ActionError("bad_name", N_("a file needs a name"))
    if len(cleaned) > MAX_NAME_CHARS:
        raise ActionError(
            "bad_name",
            N_("the file name is {length} characters long; at most {limit} are allowed"),
            length=len(cleaned),
            limit=MAX_NAME_CHARS,
        )
    if _BAD_NAME_CHARS.search(cleaned):
        raise ActionError(
            "bad_name",
            N_("the file name {name!r} contains a path separator or a control character"),
            name=cleaned,
        )
    return cleaned


def with_extension(name: str, ext: str, keep: set[str] | frozenset[str]) -> str:
    """Return `name` ending in `.ext`, unless it already ends in one of `keep`."""
    if _extension(name) in keep:
        return name
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    return f"{stem}.{ext}"


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[1].lower() if "." in name.lstrip(".") else ""


# ---- images ----------------------------------------------------------------------------------


def _looks_like_image(raw: bytes) -> bool:
    """Tell by the first bytes whether this is one of the image formats we decode."""
    return (
        raw.startswith((b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n", b"GIF87a", b"GIF89a"))
        or (raw[:4] == b"RIFF" and raw[8:12] == b"WEBP")
        # ISO base media (HEIC/HEIF): a box "ftyp" whose major brand is an image brand.
        or (raw[4:8] == b"ftyp" and raw[8:12] in HEIF_BRANDS)
    )


def _process_image(raw: bytes, name: str) -> Processed:
    """Decode, turn upright, shrink and re-encode a photo without any of its metadata."""
    try:
        im = Image.open(io.BytesIO(raw), formats=IMAGE_FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow's own check fires first above ~89 MP (a warning; an error from ~179 MP). The
        # warning is an exception only where warnings are errors (the tests); elsewhere it is
        # logged and the size check below refuses the image just the same.
        raise _too_large(name) from exc
    except Exception as exc:  # any decoder failure: a broken or disguised file
        raise _unreadable(name) from exc
    with im:
        width, height = im.size
        if width * height > MAX_PIXELS:
            raise _too_large(name)
        try:
            image, alpha = _decode_upright(im)
        except Exception as exc:  # cut off, corrupt in the middle, a mode we cannot convert
            raise _unreadable(name) from exc
    out = io.BytesIO()
    if alpha:  # a logo or a cut-out: transparency would turn black in a JPEG
        image.save(out, "PNG", optimize=True)
        content_type, ext, keep = "image/png", "png", {"png"}
    else:
        image.save(
            out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True, subsampling="4:2:0"
        )
        content_type, ext, keep = "image/jpeg", "jpg", {"jpg", "jpeg"}
    return Processed(
        kind="image",
        content_type=content_type,
        name=with_extension(name, ext, keep),
        data=out.getvalue(),
        thumb=_thumbnail(image),
        width=image.width,
        height=image.height,
        placeholder=_placeholder(image),
    )


def _unreadable(name: str) -> ActionError:
    return ActionError("not_an_image", N_("{name!r} is not a photo that can be read"), name=name)


def _too_large(name: str) -> ActionError:
    return ActionError(
        "image_too_large",
        N_("{name!r} has too many pixels; at most {limit} megapixels are allowed"),
        name=name,
        limit=MAX_PIXELS // 1_000_000,
    )


def _decode_upright(im: Image.Image) -> tuple[Image.Image, bool]:
    """Return the first frame upright, at most IMAGE_MAX_SIDE_PX, in sRGB, without metadata;
    and whether it has transparency."""
    longest = max(im.size)
    if longest > IMAGE_MAX_SIDE_PX:
        # JPEG: libjpeg decodes at 1/2, 1/4 or 1/8 size when that still gives DRAFT_MIN_SHARE
        # of the target, at a fraction of the CPU and memory of a full decode.
        share = DRAFT_MIN_SHARE * IMAGE_MAX_SIDE_PX / longest
        im.draft("RGB", (math.ceil(im.width * share), math.ceil(im.height * share)))
    im.seek(0)  # an animated GIF or WebP: its first frame
    im.load()
    orientation = im.getexif().get(ExifTags.Base.Orientation, 1)
    icc = im.info.get("icc_profile")
    alpha = _has_alpha(im)
    mode = "RGBA" if alpha else "RGB"
    # Shrink first, then turn and convert colours: every later step works on 3 MP, not 12-48.
    image: Image.Image = im if im.mode == mode else im.convert(mode)
    image.thumbnail((IMAGE_MAX_SIDE_PX, IMAGE_MAX_SIDE_PX), Image.Resampling.LANCZOS)
    if icc:
        image = _to_srgb(image, icc)
    turn = _ORIENTATIONS.get(orientation) if isinstance(orientation, int) else None
    if turn is not None:
        image = image.transpose(turn)
    # A new image from the pixels alone: no EXIF, GPS, XMP, comment or ICC survives into it.
    clean = Image.new(mode, image.size)
    clean.paste(image)
    return clean, alpha


# EXIF Orientation -> the turn that shows the photo upright (as ImageOps.exif_transpose does).
_T = Image.Transpose
_ORIENTATIONS = {2: _T.FLIP_LEFT_RIGHT, 3: _T.ROTATE_180, 4: _T.FLIP_TOP_BOTTOM, 5: _T.TRANSPOSE,
                 6: _T.ROTATE_270, 7: _T.TRANSVERSE, 8: _T.ROTATE_90}  # fmt: skip


def _has_alpha(im: Image.Image) -> bool:
    """Tell whether any pixel is transparent (an opaque alpha channel doesn't count)."""
    if im.mode not in {"RGBA", "LA", "PA"} and "transparency" not in im.info:
        return False
    rgba = im if im.mode == "RGBA" else im.convert("RGBA")
    alpha = rgba.getextrema()[-1]  # per band, without copying the alpha channel out
    return isinstance(alpha, tuple) and alpha[0] < 255


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Convert from the photo's colour profile (an iPhone's Display P3) to sRGB.

    Why convert instead of keeping the profile: browsers treat untagged images as sRGB, so the
    colours stay right without shipping a profile (0.5-3 KB, naming the device's vendor) in
    every photo and thumbnail. A profile that cannot be read is dropped: colours slightly off,
    the photo still shown.
    """
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(
            image, source, _SRGB, outputMode=image.mode, renderingIntent=ImageCms.Intent.PERCEPTUAL
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return image
    return converted if isinstance(converted, Image.Image) else image


_SRGB = ImageCms.createProfile("sRGB")


def _thumbnail(image: Image.Image) -> bytes:
    """Return a JPEG at most THUMB_MAX_SIDE_PX (transparency shown on white)."""
    small = _flatten(image)
    small.thumbnail((THUMB_MAX_SIDE_PX, THUMB_MAX_SIDE_PX), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=THUMB_JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _placeholder(image: Image.Image) -> str:
    """Return a blurred PLACEHOLDER_MAX_SIDE_PX WebP as a data: URL (≈ 200 characters)."""
    tiny = _flatten(image).reduce(max(1, max(image.size) // (PLACEHOLDER_MAX_SIDE_PX * 4)))
    tiny.thumbnail((PLACEHOLDER_MAX_SIDE_PX, PLACEHOLDER_MAX_SIDE_PX), Image.Resampling.BOX)
    tiny = tiny.filter(ImageFilter.GaussianBlur(1))
    out = io.BytesIO()
    tiny.save(out, "WEBP", quality=PLACEHOLDER_WEBP_QUALITY, method=6)
    return "data:image/webp;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def _flatten(image: Image.Image) -> Image.Image:
    """Return an RGB copy, transparent parts white."""
    if image.mode != "RGBA":
        return image.convert("RGB")
    white = Image.new("RGB", image.size, (255, 255, 255))
    white.paste(image, mask=image.getchannel("A"))
    return white


# ---- files -----------------------------------------------------------------------------------


def sniff_file(raw: bytes, name: str) -> str | None:
    """Return the kind of an allowed file ("pdf", "docx", … as FILE_TYPES' keys) by its bytes."""
    if b"%PDF-" in raw[:1024]:  # readers accept a header after some bytes of junk
        return "pdf"
    if raw.startswith(b"PK\x03\x04"):
        return _sniff_zip(raw)
    if raw.startswith(_OLE2_MAGIC):
        # The directory usually sits near the start; large files may keep it further on.
        return next((kind for stream, kind in _OLE2_STREAMS.items() if stream in raw), None)
    ext = _extension(name)
    if ext in {"txt", "csv"} and b"\x00" not in raw:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            return None
        return ext
    return None


def _sniff_zip(raw: bytes) -> str | None:
    """Tell an OpenDocument or Office Open XML file from any other ZIP archive."""
    try:
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            names = set(archive.namelist())
            if "mimetype" in names:
                declared = _read_small(archive, "mimetype").decode("ascii", "replace").strip()
                kind = {FILE_TYPES[k]: k for k in ("odt", "ods", "odp")}.get(declared)
                return kind if kind and "content.xml" in names else None
            if "[Content_Types].xml" in names:
                types = _read_small(archive, "[Content_Types].xml").decode("utf-8", "replace")
                for part, content_type in _overrides(types):
                    kind = _OOXML_MAIN.get(content_type)
                    if kind and part.lstrip("/") in names:
                        return kind
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError):
        pass
    return None


def _read_small(archive: zipfile.ZipFile, member: str) -> bytes:
    with archive.open(member) as f:
        data = f.read(OFFICE_XML_MAX_BYTES + 1)
    if len(data) > OFFICE_XML_MAX_BYTES:
        raise ValueError(f"{member!r} is larger than {OFFICE_XML_MAX_BYTES} bytes")
    return data


_OVERRIDE = re.compile(r"<Override\b([^>]*)>")
_ATTRIBUTE = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


def _overrides(content_types: str) -> list[tuple[str, str]]:
    """Return the (PartName, ContentType) pairs of a [Content_Types].xml (read as text: no XML
    parser on an untrusted document, no entity expansion)."""
    pairs = []
    for match in _OVERRIDE.finditer(content_types):
        attributes = dict(_ATTRIBUTE.findall(match.group(1)))
        pairs.append((attributes.get("PartName", ""), attributes.get("ContentType", "")))
    return pairs
