"""What a push notification says: small, shown every time, and never more than the
recipient may see."""

from __future__ import annotations

import json
from dataclasses import dataclass

PAYLOAD_MAX_BYTES = 3000  # aes128gcm leaves 3993 bytes of 4096; stay well under
TITLE_MAX_CHARS = 80
BODY_MAX_CHARS = 180  # a lock screen shows two or three lines
SHORTENED_BODY_CHARS = 60  # after a 413 from a push service


@dataclass(frozen=True)
class Notification:
    kind: str
    title: str
    body: str
    url: str
    tag: str  # one notification per thread: later pushes replace earlier ones
    badge: int  # unread total for the app icon
    image: str = ""  # a photo's thumbnail ("/files/{id}/thumb"), where the platform shows one

    def encode(self, body_chars: int = BODY_MAX_CHARS) -> bytes:
        """Serialize, shortening the text until it fits the size budget."""
        for limit in (body_chars, SHORTENED_BODY_CHARS, 0):
            data = {
                "kind": self.kind,
                "title": shorten(self.title, TITLE_MAX_CHARS),
                "body": shorten(self.body, limit),
                "url": self.url,
                "tag": self.tag,
                "badge": self.badge,
            }
            if self.image:
                data["image"] = self.image
            raw = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()
            if len(raw) <= PAYLOAD_MAX_BYTES:
                return raw
        raise ValueError(f"notification does not fit {PAYLOAD_MAX_BYTES} bytes even without text")


def shorten(text: str, limit: int) -> str:
    """Cut text at a word boundary with an ellipsis."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    if limit <= 1:
        return ""
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:") + "…"
