"""Outgoing mail: over SMTP when `SMTP_HOST` is set, otherwise (development) each message is written as an `.eml`
file under `MAIL_DIR`, where a developer opens it with any mail reader.

Messages that carry a one-time secret (password reset, invitation) are handed over here and nowhere else: never
logged, never stored in clear. Sending runs in a thread, after the response (the caller schedules it), so whether a
mail was sent does not show in how long a request took.
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path

from app.core.config import get_settings

log = logging.getLogger("matchready.mail")


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str


def build_message(mail: Mail) -> EmailMessage:
    settings = get_settings()
    msg = EmailMessage()
    msg["From"] = settings.mail_from
    msg["To"] = mail.to
    msg["Subject"] = mail.subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain="matchready")
    msg.set_content(mail.body)
    return msg


def _send_now(mail: Mail) -> None:
    settings = get_settings()
    msg = build_message(mail)
    if not settings.smtp_host:
        folder = Path(settings.mail_dir)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{uuid.uuid4().hex}.eml"
        path.write_bytes(msg.as_bytes())
        path.chmod(0o600)  # it may hold a one-time secret
        return
    timeout = settings.smtp_timeout_seconds
    if settings.smtp_tls == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=timeout,
                                                context=ssl.create_default_context())
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=timeout)
    with client:
        if settings.smtp_tls == "starttls":
            client.starttls(context=ssl.create_default_context())
        if settings.smtp_user:
            client.login(settings.smtp_user, settings.smtp_password or "")
        client.send_message(msg)


async def send(mail: Mail) -> None:
    """Send one message; a failure is logged (without the message) and swallowed: the request it follows has
    already been answered."""
    try:
        await asyncio.to_thread(_send_now, mail)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("mail not sent: %s", type(exc).__name__)
