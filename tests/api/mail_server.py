"""A real SMTP server for the tests (aiosmtpd on a free loopback port) and the service pointed at it."""

from __future__ import annotations

import re
import socket
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from app.core.config import get_settings


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted for delivery"

    def wait_for(self, n: int, timeout: float = 5.0) -> list[EmailMessage]:
        deadline = time.monotonic() + timeout
        while len(self.messages) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address]


def token_in(message: EmailMessage) -> str:
    body = message.get_body(preferencelist=("plain",))
    assert body is not None
    found = re.search(r"^ {4}(\S{40,})\s*$", body.get_content(), re.MULTILINE)
    assert found, body.get_content()
    return found.group(1)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(monkeypatch: pytest.MonkeyPatch, *, login: tuple[str, str] | None = None,
          configured_login: tuple[str, str] | None = None) -> Iterator[Mailbox]:
    """The body of a test module's `mailbox` fixture: `yield from serve(monkeypatch)`. With `login`, the server
    accepts only that user and password (AUTH, over the loopback without TLS); `configured_login` is what the
    service is given (default: the same)."""
    box = Mailbox()
    port = _free_port()
    extra: dict[str, Any] = {}
    if login is not None:
        def authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = isinstance(data, LoginPassword) and (data.login.decode(), data.password.decode()) == login
            return AuthResult(success=ok, handled=False)

        extra = {"authenticator": authenticate, "auth_required": True, "auth_require_tls": False}
    controller = Controller(box, hostname="127.0.0.1", port=port, **extra)
    controller.start()
    settings = [("SMTP_HOST", "127.0.0.1"), ("SMTP_PORT", str(port)), ("SMTP_TLS", "none"),
                ("MAIL_FROM", "MatchReady <no-reply@matchready.test>")]
    given = configured_login or login
    if given is not None:
        settings += [("SMTP_USER", given[0]), ("SMTP_PASSWORD", given[1])]
    for name, value in settings:
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    try:
        yield box
    finally:
        controller.stop()
        monkeypatch.undo()
        get_settings.cache_clear()
