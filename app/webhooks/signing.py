"""Signing secrets and signatures, per the Standard Webhooks specification (https://www.standardwebhooks.com).

A secret is `whsec_` + base64 of 32 random bytes. It is shown once and kept only encrypted (Fernet, with a key
derived from SECRET_KEY by HKDF), because the service needs it back to sign. Signatures are made by the
specification's own library (`standardwebhooks`), so a receiver's `Webhook(secret).verify(...)` accepts them.
"""

from __future__ import annotations

import base64
import secrets
from datetime import datetime
from functools import lru_cache

from cryptography.fernet import InvalidToken
from standardwebhooks import Webhook

from app.core.crypto import fernet_for

SECRET_PREFIX = "whsec_"
_SECRET_BYTES = 32


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(_SECRET_BYTES)).decode()


_PURPOSE = b"matchready webhook signing secrets v1"


def encrypt_secret(secret: str) -> str:
    return fernet_for(_PURPOSE).encrypt(secret.encode()).decode()


class SecretUnreadable(Exception):
    """The stored secret cannot be decrypted: SECRET_KEY changed since it was stored. Rotate the secret."""


def decrypt_secret(token: str) -> str:
    try:
        return fernet_for(_PURPOSE).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable("the endpoint's signing secret cannot be decrypted; rotate it") from exc


@lru_cache(maxsize=4096)
def signer(token: str) -> Webhook:
    """The signer of an encrypted secret (decrypted once per worker; the token changes when the secret does)."""
    return Webhook(decrypt_secret(token))


def signature_headers(webhook_id: str, at: datetime, payload: str, signers: list[Webhook]) -> dict[str, str]:
    """`webhook-id`, `webhook-timestamp` and `webhook-signature` (one `v1,<base64>` per secret, space-separated:
    during a rotation both the new and the previous secret sign)."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(s.sign(webhook_id, at, payload) for s in signers),
    }
