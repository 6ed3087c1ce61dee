"""The emulator's webhook signing key: an RSA key pair, its public half served as RealtimeKit serves its own.

From Cloudflare's webhooks guide (developers.cloudflare.com/realtime/realtimekit/webhooks/, "Verify
webhook signatures"): each delivery's ``rtk-signature`` header is the base64 of an RSA-SHA256
(RSASSA-PKCS1-v1_5) signature of the raw request body, and the public key is fetched from
``https://api.realtime.cloudflare.com/.well-known/webhooks.json``, which answers
``{"success": true, "data": {"publicKey": "-----BEGIN PUBLIC KEY-----\\n..."}, "message": ""}``.

The key pair is made once per emulator, on first use (a 2048-bit key costs a fraction of a second, and
most emulators never sign anything). ``cryptography`` is imported only then, so starting the emulator
stays quick and needs only the standard library.
"""

from __future__ import annotations

import base64
import threading
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

#: Where the public key is served (no auth), as on ``api.realtime.cloudflare.com``.
KEYS_PATH = "/.well-known/webhooks.json"
KEY_BITS = 2048


def _new_key() -> RSAPrivateKey:
    from cryptography.hazmat.primitives.asymmetric import rsa

    return rsa.generate_private_key(public_exponent=65537, key_size=KEY_BITS)


def _sign_with(key: RSAPrivateKey, body: bytes) -> str:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode("ascii")


class WebhookSigner:
    """One RSA key pair (made on first use) that signs every delivery of one emulator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: RSAPrivateKey | None = None
        self._other: RSAPrivateKey | None = None

    def _private(self) -> RSAPrivateKey:
        with self._lock:
            if self._key is None:
                self._key = _new_key()
            return self._key

    def public_key_pem(self) -> str:
        """The public key, PEM (``-----BEGIN PUBLIC KEY-----``, SubjectPublicKeyInfo)."""
        from cryptography.hazmat.primitives import serialization

        public = self._private().public_key()
        pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        return pem.decode("ascii")

    def keys_document(self) -> dict[str, Any]:
        """The answer of ``/.well-known/webhooks.json``."""
        return {"success": True, "data": {"publicKey": self.public_key_pem()}, "message": ""}

    def sign(self, body: bytes) -> str:
        """``rtk-signature`` of these exact bytes."""
        return _sign_with(self._private(), body)

    def sign_with_other_key(self, body: bytes) -> str:
        """A well-formed signature of ``body`` by a key nobody published (a forgery, for tests)."""
        with self._lock:
            if self._other is None:
                self._other = _new_key()
            other = self._other
        return _sign_with(other, body)
