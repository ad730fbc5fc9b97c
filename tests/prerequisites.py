"""What slow tiers need from the machine, and the one rule for when it is missing.

Real-systemd and browser tests may skip on a machine that cannot run them, saying why;
under ``CI=true`` a missing prerequisite is a failure, so CI can never go green by
skipping a tier.
"""

from __future__ import annotations

import base64
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import pytest

CHROMIUM = os.environ.get("BUSSDCC_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def unavailable(reason: str) -> NoReturn:
    """Skip with ``reason``, or fail under CI=true where every tier must really run."""
    if in_ci():
        pytest.fail(f"cannot run: {reason}")
    pytest.skip(reason)


@contextmanager
def chromium_context(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """Debian's headless Chromium driven by Playwright (never a downloaded browser)."""
    if not os.path.exists(CHROMIUM):
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install playwright)")
    profile = tempfile.mkdtemp(prefix="bussdcc-chromium-")
    try:
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                profile,
                executable_path=CHROMIUM,
                args=CHROMIUM_FLAGS,
                headless=True,
                viewport={"width": width, "height": height},
            )
            try:
                yield context
            finally:
                context.close()
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def nonblank(page: Any, png: bytes) -> tuple[float, int]:
    """(luminance variance, distinct colours in a sample) of a PNG, computed in ``page``:
    a blank or single-colour screenshot has variance ~0 and a handful of colours."""
    result = page.evaluate(
        """async (src) => {
        const img = new Image(); img.src = src; await img.decode();
        const c = new OffscreenCanvas(img.width, img.height);
        const g = c.getContext("2d"); g.drawImage(img, 0, 0);
        const d = g.getImageData(0, 0, img.width, img.height).data;
        let n = 0, sum = 0, sq = 0; const colours = new Set();
        for (let i = 0; i < d.length; i += 4 * 7) {
            const y = 0.2126 * d[i] + 0.7152 * d[i + 1] + 0.0722 * d[i + 2];
            n++; sum += y; sq += y * y;
            colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
        }
        return [sq / n - (sum / n) ** 2, colours.size];
    }""",
        "data:image/png;base64," + base64.b64encode(png).decode(),
    )
    return float(result[0]), int(result[1])


def assert_not_blank(browser: Any, png: bytes, name: object) -> None:
    """Fail when the screenshot ``png`` (called ``name``) is blank or one colour, as
    measured in a new page of ``browser``."""
    probe = browser.new_page()
    try:
        variance, colours = nonblank(probe, png)
    finally:
        probe.close()
    assert variance > 100 and colours > 50, f"{name} looks blank ({variance=}, {colours=})"
