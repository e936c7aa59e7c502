"""Render the app icons (PNG) from the SVG logo with the test suite's Chromium.

Run after changing web/static/icon.svg:  .venv/bin/python web/make_icons.py
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import sync_playwright

STATIC = Path(__file__).resolve().parent / "static"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# name: (size in px, maskable). Maskable icons keep the logo inside the 80% safe zone.
ICONS = {
    "icon-192.png": (192, False),
    "icon-512.png": (512, False),
    "maskable-512.png": (512, True),
    "apple-touch-icon.png": (180, True),
    "badge-96.png": (96, False),
}


def main() -> None:
    svg = (STATIC / "icon.svg").read_text()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for name, (size, maskable) in ICONS.items():
            page = browser.new_page(viewport={"width": size, "height": size})
            inner = int(size * 0.8) if maskable else size
            background = "#1f6f5c" if maskable else "transparent"
            page.set_content(
                f"<html><body style='margin:0;background:{background};display:grid;"
                f"place-items:center;width:{size}px;height:{size}px'>"
                f"<div style='width:{inner}px;height:{inner}px'>{svg}</div></body></html>"
            )
            page.locator("svg").evaluate("e => { e.style.width='100%'; e.style.height='100%'; }")
            page.screenshot(path=str(STATIC / "icons" / name), omit_background=not maskable)
            page.close()
        browser.close()


if __name__ == "__main__":
    main()
