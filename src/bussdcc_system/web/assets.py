"""Static assets served from memory: content-hashed URLs, gzip, immutable caching.

The dashboard must work offline, so every byte it needs is served by the daemon. The
few files are read once at start-up; each URL carries its content hash, so a browser
keeps them forever (``immutable``) and a package upgrade changes the URL. Third-party
files live in ``static/vendor/``, committed and pinned by ``scripts/assets.lock`` (the
package build checks them); when they are missing the dashboard says so, and how to get
them back, instead of half-working.
"""

from __future__ import annotations

import gzip
import hashlib
import logging
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from flask import Response, request

log = logging.getLogger("bussdcc_system.web")

STATIC_DIR = Path(__file__).resolve().parent / "static"
REQUIRED_VENDOR = ("vendor/socket.io.min.js",)
"""Vendor files the dashboard cannot work without (see scripts/assets.lock)."""

_COMPRESSIBLE = (".js", ".css", ".svg", ".json", ".html", ".txt", ".LICENSE")
_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".LICENSE": "text/plain; charset=utf-8",
    ".lock": "text/plain; charset=utf-8",
    ".png": "image/png",
    ".ico": "image/x-icon",
    "": "application/octet-stream",  # vendor/SHA256SUMS, as mimetypes says
}
"""Every file shipped: ``mimetypes`` would read the system's type tables (0.35 MB kept)."""


def installed(root: Path) -> bool:
    """Whether ``root`` belongs to an installed package (the Debian package puts it under
    dist-packages, pip under site-packages) rather than to a source checkout.
    templates/missing.html makes the same distinction."""
    return bool({"dist-packages", "site-packages"} & set(root.parts))


def restore_hint(root: Path) -> str:
    """How to get missing vendor files back: an installed package has no scripts/."""
    if installed(root):
        return "the package is damaged: reinstall it (apt install --reinstall bussdcc-system)"
    return (
        "they are part of the source tree: restore them (git checkout -- "
        "src/bussdcc_system/web/static/vendor) or run scripts/fetch-assets.sh"
    )


@dataclass(frozen=True, slots=True)
class Asset:
    name: str
    body: bytes
    gzipped: bytes | None
    etag: str
    mimetype: str


class Assets:
    """Every file under ``root`` (one level of subdirectories), keyed by relative name."""

    def __init__(self, root: Path = STATIC_DIR) -> None:
        self.root = root
        self._files: dict[str, Asset] = {}
        if root.is_dir():
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.name.startswith(".") and path.suffix != ".map":
                    self._add(path.relative_to(root).as_posix(), path.read_bytes())
        self.missing: tuple[str, ...] = tuple(n for n in REQUIRED_VENDOR if n not in self._files)
        if self.missing:
            log.error(
                "dashboard assets missing in %s: %s; %s (the API and /metrics still work)",
                root,
                ", ".join(self.missing),
                restore_hint(root),
            )

    def _add(self, name: str, body: bytes) -> None:
        suffix = Path(name).suffix
        mimetype = _TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
        zipped = None
        if suffix in _COMPRESSIBLE and len(body) > 512:
            zipped = gzip.compress(body, compresslevel=9, mtime=0)
        etag = hashlib.sha256(body).hexdigest()[:16]
        self._files[name] = Asset(name, body, zipped, etag, mimetype)

    def __contains__(self, name: str) -> bool:
        return name in self._files

    def url(self, name: str) -> str:
        asset = self._files.get(name)
        return f"/static/{name}?v={asset.etag}" if asset else f"/static/{name}"

    def total_bytes(self, names: tuple[str, ...], *, compressed: bool = True) -> int:
        total = 0
        for name in names:
            a = self._files.get(name)
            if a is not None:
                total += len(a.gzipped) if compressed and a.gzipped else len(a.body)
        return total

    def response(self, name: str) -> Response | None:
        asset = self._files.get(name)
        if asset is None:
            return None
        headers = {
            "ETag": f'"{asset.etag}"',
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        if request.args.get("v") == asset.etag:
            headers["Cache-Control"] = "public, max-age=31536000, immutable"
        else:
            headers["Cache-Control"] = "no-cache"
        if asset.etag in request.if_none_match:
            return Response(status=304, headers=headers)
        body = asset.body
        if asset.gzipped is not None and request.accept_encodings.quality("gzip") > 0:
            body = asset.gzipped
            headers["Content-Encoding"] = "gzip"
        return Response(body, content_type=asset.mimetype, headers=headers)
