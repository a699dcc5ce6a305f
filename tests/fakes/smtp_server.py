"""A real SMTP server on loopback (aiosmtpd, in a thread) that keeps every mail it is given.

    with serving() as mailbox:                       # plain SMTP with AUTH (loopback only)
        env = mailbox.env                            # MOSAIC_SMTP_URL and friends
        ... sign up through the service ...
        mail = mailbox.wait_for("ada@example.com")   # the parsed message
        token = link_token(mail, "/verify")

`serving(starttls=True)` offers STARTTLS with a self-signed certificate for 127.0.0.1 and refuses
AUTH before it; `client_context` trusts that certificate. Only the user and password of `USER` and
`PASSWORD` are accepted; `logins` records who logged in, and over TLS or not.
"""

from __future__ import annotations

import datetime
import email
import email.policy
import ipaddress
import socket
import ssl
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

HOST = "127.0.0.1"
USER = "mosaic"
PASSWORD = "smtp pass/word@1"
SENDER = "Mosaic Studio <no-reply@studio.example.com>"
PUBLIC_URL = "https://studio.example.com"
WAIT_S = 10.0


@dataclass
class Mailbox:
    port: int
    starttls: bool
    cert_pem: bytes
    messages: list[EmailMessage] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)  # (user, over TLS)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    @property
    def url(self) -> str:
        scheme = "smtp+starttls" if self.starttls else "smtp"
        return f"{scheme}://{USER}:{PASSWORD.replace('/', '%2F').replace('@', '%40')}@{HOST}:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return {"MOSAIC_SMTP_URL": self.url, "MOSAIC_MAIL_FROM": SENDER, "MOSAIC_PUBLIC_URL": PUBLIC_URL}

    def client_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cadata=self.cert_pem.decode())

    def received(self, message: EmailMessage) -> None:
        with self._arrived:
            self.messages.append(message)
            self._arrived.notify_all()

    def wait_for(self, to: str, *, count: int = 1, timeout_s: float = WAIT_S) -> EmailMessage:
        """The `count`-th mail to `to` (waiting for it to arrive); AssertionError if it does not."""
        with self._arrived:
            arrived = self._arrived.wait_for(lambda: len(self.to(to)) >= count, timeout=timeout_s)
            assert arrived, f"no mail #{count} to {to} within {timeout_s} s: {[m['To'] for m in self.messages]}"
            return self.to(to)[count - 1]

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in str(m["To"])]


class _Handler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: Any, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's name
        raw = envelope.original_content or b""
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.mailbox.received(message)
        return "250 OK"


def link_token(message: EmailMessage, path: str) -> str:
    """The `token` of the link to `path` in the mail's text."""
    body = message.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    for word in text.split():
        parts = urlsplit(word)
        if parts.scheme == "https" and parts.path == path:
            assert f"{parts.scheme}://{parts.netloc}" == PUBLIC_URL, word
            return parse_qs(parts.query)["token"][0]
    raise AssertionError(f"no link to {path} in: {text}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        port: int = s.getsockname()[1]
        return port


def _self_signed(directory: Path) -> tuple[Path, Path, bytes]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOST)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(HOST))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert_pem)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path, cert_pem


@contextmanager
def serving(*, starttls: bool = False) -> Iterator[Mailbox]:
    with tempfile.TemporaryDirectory() as directory:
        cert_path, key_path, cert_pem = _self_signed(Path(directory))
        mailbox = Mailbox(port=_free_port(), starttls=starttls, cert_pem=cert_pem)

        def authenticate(server: Any, session: Session, envelope: Envelope, mechanism: str, auth_data: Any) -> AuthResult:
            ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
                USER.encode(), PASSWORD.encode()
            )
            if ok:
                mailbox.logins.append((USER, session.ssl is not None))
            return AuthResult(success=ok)

        tls: dict[str, Any] = {}
        if starttls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(cert_path, key_path)
            tls = {"tls_context": context, "require_starttls": True, "auth_require_tls": True}
        controller = Controller(
            _Handler(mailbox), hostname=HOST, port=mailbox.port, authenticator=authenticate,
            **({"auth_require_tls": False} | tls),
        )
        controller.start()
        try:
            yield mailbox
        finally:
            controller.stop()
