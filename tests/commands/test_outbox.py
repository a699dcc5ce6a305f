"""The SMTP outbox against a real SMTP server on loopback: plain (loopback only), STARTTLS, refusals."""

from __future__ import annotations

import logging
import smtplib
import ssl

import pytest

from mosaic.commands.outbox import Outbox
from mosaic.config import SmtpUrl
from tests.fakes.smtp_server import SENDER, USER, serving


def test_a_mail_reaches_a_loopback_server_with_the_password_sent_once_logged_in() -> None:
    with serving() as mailbox:
        outbox = Outbox(SmtpUrl.parse(mailbox.url), sender=SENDER)
        try:
            outbox.send(to="ada@example.com", subject="Hello", text="a line\n")
        finally:
            outbox.close()
        mail = mailbox.wait_for("ada@example.com")
    assert mail["Subject"] == "Hello" and mail["From"] == SENDER
    assert mail.get_body(("plain",)).get_content().splitlines() == ["a line"]  # type: ignore[union-attr]
    assert mailbox.logins == [(USER, False)]


def test_with_starttls_the_password_and_the_mail_go_over_tls() -> None:
    with serving(starttls=True) as mailbox:
        smtp = SmtpUrl.parse(mailbox.url)
        assert smtp.security == "starttls"
        outbox = Outbox(smtp, sender=SENDER, ssl_context=mailbox.client_context())
        try:
            outbox.send(to="ada@example.com", subject="Hello", text="over TLS\n")
        finally:
            outbox.close()
        mailbox.wait_for("ada@example.com")
    assert mailbox.logins == [(USER, True)]


def test_starttls_to_a_server_that_does_not_offer_it_is_refused_before_any_password() -> None:
    with serving() as mailbox:
        smtp = SmtpUrl.parse(mailbox.url.replace("smtp://", "smtp+starttls://"))
        outbox = Outbox(smtp, sender=SENDER)
        try:
            with pytest.raises(smtplib.SMTPNotSupportedError):
                outbox.send(to="ada@example.com", subject="Hello", text="never sent\n")
        finally:
            outbox.close()
    assert mailbox.logins == [] and mailbox.messages == []


def test_a_certificate_nobody_vouches_for_is_refused() -> None:
    with serving(starttls=True) as mailbox:
        outbox = Outbox(SmtpUrl.parse(mailbox.url), sender=SENDER)  # the system's trust store
        try:
            with pytest.raises(ssl.SSLCertVerificationError):
                outbox.send(to="ada@example.com", subject="Hello", text="never sent\n")
        finally:
            outbox.close()
    assert mailbox.logins == [] and mailbox.messages == []


def test_a_failed_job_is_logged_by_what_it_was_without_its_text(caplog: pytest.LogCaptureFixture) -> None:
    with serving() as mailbox:
        port = mailbox.port
    outbox = Outbox(SmtpUrl.parse(f"smtp://127.0.0.1:{port}"), sender=SENDER, timeout_s=2)
    caplog.set_level(logging.DEBUG)
    try:
        outbox.submit(
            lambda: outbox.send(to="ada@example.com", subject="s", text="secret-token-text"), what="reset mail"
        ).result()
    finally:
        outbox.close()
    assert "could not send the reset mail: ConnectionRefusedError" in caplog.text
    assert "secret-token-text" not in caplog.text


def test_an_address_that_would_make_two_recipients_gets_no_mail() -> None:
    with serving() as mailbox:
        outbox = Outbox(SmtpUrl.parse(mailbox.url), sender=SENDER)
        try:
            with pytest.raises(ValueError, match="exactly one"):
                outbox.send(to="ada@example.com,eve@example.com", subject="Hello", text="x\n")
        finally:
            outbox.close()
    assert mailbox.messages == []
