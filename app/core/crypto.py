"""Symmetric encryption of what the service must read back but never keep in plaintext (webhook signing secrets,
remembered idempotent responses): Fernet, with one key per purpose derived from SECRET_KEY by HKDF.

Changing SECRET_KEY makes what was encrypted unreadable: each caller says what that means for its data."""

from __future__ import annotations

import base64
from functools import lru_cache

from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from app.core.config import get_settings


@lru_cache(maxsize=16)
def _fernet(secret_key: str, purpose: bytes) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(secret_key, purpose)))


def derive_key(secret_key: str, purpose: bytes) -> bytes:
    """32 bytes for `purpose` (HKDF-SHA256 of SECRET_KEY, the purpose as its `info`)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(secret_key.encode())


def fernet_for(purpose: bytes) -> Fernet:
    """The Fernet of `purpose` under the current SECRET_KEY."""
    return _fernet(get_settings().secret_key, purpose)
