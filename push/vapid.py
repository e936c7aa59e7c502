"""The server's VAPID identity: generated on first run and kept in the data folder."""

from __future__ import annotations

import base64
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec


@dataclass(frozen=True)
class VapidKeys:
    private_pem: str  # PKCS#8 PEM of the P-256 private key
    public_key: str  # base64url uncompressed point: the browser's applicationServerKey
    subject: str  # mailto: or https: contact for push services


def _public_b64(key: ec.EllipticCurvePrivateKey) -> str:
    raw = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def load_or_create(data_dir: Path, private_pem: str, subject: str) -> VapidKeys:
    """Use the configured key, else the one kept in the data folder, else make one."""
    pem = private_pem.strip()
    if not pem:
        path = data_dir / "vapid_private.pem"
        if path.exists() and path.read_text().strip():
            pem = path.read_text()
        else:
            pem = (
                ec.generate_private_key(ec.SECP256R1())
                .private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
                .decode()
            )
            data_dir.mkdir(parents=True, exist_ok=True)
            if path.exists():
                path.unlink()
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(pem)
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("VAPID_PRIVATE_KEY must be a P-256 (prime256v1) private key in PEM")
    return VapidKeys(private_pem=pem, public_key=_public_b64(key), subject=subject)
