"""Account mail out through SMTP: the standard library's `smtplib`, in a small pool of threads of its own.

A mail is a job handed to the pool: the caller (a request) never waits for the mail server, and a
server that is down or slow delays nobody's answer; a job that fails is logged (which mail, to
which user, why) and dropped: the user asks again. The job's text (it holds a single-use token) is
never logged.

TLS is as the URL says (`mosaic.config.SmtpUrl`): STARTTLS, refused if the server does not offer
it, so a password is not sent in the clear to a server that "forgot" TLS; or TLS from the first
byte (`smtps://`). Certificates are checked against the system's trust store (tests pass their own).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import getaddresses, make_msgid
from typing import Final

from mosaic.config import SmtpUrl

log = logging.getLogger(__name__)

MAIL_WORKERS: Final = 2
SMTP_TIMEOUT_S: Final = 15.0


class Outbox:
    def __init__(
        self,
        smtp: SmtpUrl,
        *,
        sender: str,
        ssl_context: ssl.SSLContext | None = None,
        workers: int = MAIL_WORKERS,
        timeout_s: float = SMTP_TIMEOUT_S,
    ) -> None:
        self.smtp = smtp
        self.sender = sender
        self.ssl_context = ssl_context or ssl.create_default_context()
        self.timeout_s = timeout_s
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="mosaic-mail")

    def submit(self, job: Callable[[], None], *, what: str) -> Future[None]:
        """Run `job` (make a token, then `send`) in a mail thread; a failure is logged as `what`."""

        def run() -> None:
            try:
                job()
            except Exception as exc:
                # The message names the failure only: an SMTP error may quote what was sent.
                log.warning("could not send the %s: %s", what, type(exc).__name__)

        return self._pool.submit(run)

    def send(self, *, to: str, subject: str, text: str) -> None:
        """Deliver one plain-text mail now, in the calling thread, to `to` alone; raises on any failure."""
        # Sign-up accepts addresses such as "a@x.com,b@y.com" (one '@' before the domain is all it
        # checks): as a header that would be two recipients, so a mail goes to exactly one, or none.
        if len(getaddresses([to])) != 1 or any(c in to for c in ",;<>"):
            raise ValueError("a mail goes to exactly one address")
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = to
        message["Subject"] = subject
        message["Message-ID"] = make_msgid(domain=self.sender.rpartition("@")[2].strip(">") or None)
        message.set_content(text)
        with self._connect() as client:
            if self.smtp.user:
                client.login(self.smtp.user, self.smtp.password)
            client.send_message(message, to_addrs=[to])

    def _connect(self) -> smtplib.SMTP:
        smtp = self.smtp
        if smtp.security == "tls":
            return smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=self.timeout_s, context=self.ssl_context)
        client = smtplib.SMTP(smtp.host, smtp.port, timeout=self.timeout_s)
        try:
            if smtp.security == "starttls":
                client.starttls(context=self.ssl_context)  # raises if the server does not offer it
        except BaseException:
            client.close()
            raise
        return client

    def close(self) -> None:
        """Wait for the mails already handed over, then stop the threads."""
        self._pool.shutdown(wait=True)
