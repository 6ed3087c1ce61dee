"""Key pairs made by the tests, signing deliveries as RealtimeKit does (PKCS#1 v1.5, SHA-256, base64)."""

from __future__ import annotations

import base64
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa


class KeyPair:
    """An RSA key pair made for one test; signs as RealtimeKit does (PKCS#1 v1.5, SHA-256, base64)."""

    def __init__(self) -> None:
        self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    @property
    def page(self) -> dict[str, Any]:
        pem = self.private.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return {"success": True, "data": {"publicKey": pem.decode()}}

    def sign(self, body: bytes) -> str:
        return base64.b64encode(self.private.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


_KEYS: list[KeyPair] = []


def key_pair(index: int) -> KeyPair:
    """The ``index``-th key pair of the session (2048-bit keys take a moment to make)."""
    while len(_KEYS) <= index:
        _KEYS.append(KeyPair())
    return _KEYS[index]
