"""Account mail's use cases: the address verification mailed at sign-up (and again on request), the
forgotten-password mail, and the two links' tokens used.

A token is 32 random bytes (`secrets.token_urlsafe`), mailed as a link to the web page
(`/verify?token=…`, `/reset?token=…` under `MOSAIC_PUBLIC_URL`); the ledger records only its SHA-256.
Making the token, recording it and sending the mail happen in a mail thread (`Outbox.submit`), so
`forgot` answers at once and the same for a known and an unknown address: an unknown one simply
gets no mail. Using a token is a command on the user's aggregate, which alone decides whether the
token is valid, used or expired (the `mail_tokens` view only finds whose it is).

Without SMTP configured, sign-up sends nothing (the address stays unverified), `forgot` and a resend
are `MailUnavailable` (503 `email_unavailable`); tokens mailed earlier can still be used.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from mosaic.commands.ledger import Ledger
from mosaic.commands.outbox import Outbox
from mosaic.commands.writer import Committed
from mosaic.domain.errors import AlreadyVerified, ErrorKind, Failure, MailTokenInvalid, NotFound
from mosaic.domain.users import (
    MAIL_TOKEN_CHARS_MAX,
    MAIL_TOKEN_TTL_S,
    check_password,
    checked_email,
    mail_token_hash,
)
from mosaic.queries.views import MailTokenRow, UserRow, Views

Settle = Callable[[Committed[Any]], None]

TOKEN_BYTES = 32
_TTL_TEXT = f"{MAIL_TOKEN_TTL_S // 60} minutes"


class MailUnavailable(Failure):
    """No SMTP server is configured (`MOSAIC_SMTP_URL` is empty)."""

    kind = ErrorKind.NOT_CONFIGURED
    code = "email_unavailable"


@dataclass(frozen=True, slots=True)
class PasswordReset:
    user_id: str
    email: str


class AccountMail:
    def __init__(
        self, *, ledger: Ledger, views: Views, settle: Settle, outbox: Outbox | None, public_url: str
    ) -> None:
        assert outbox is None or public_url, "mail links need the public URL (checked in config)"
        self.ledger = ledger
        self.views = views
        self.settle = settle
        self.outbox = outbox
        self.public_url = public_url.rstrip("/")

    def _outbox(self) -> Outbox:
        if self.outbox is None:
            raise MailUnavailable(
                "account mail is not configured on this server (no MOSAIC_SMTP_URL); ask support"
            )
        return self.outbox

    # -- verification -----------------------------------------------------------------------------

    def signed_up(self, *, user_id: str, email: str) -> None:
        """After a sign-up: the verification mail, in the background; nothing without SMTP."""
        if self.outbox is not None:
            self.outbox.submit(lambda: self._send_verification(user_id, email), what="verification mail")

    def resend_verification(self, *, user_id: str) -> None:
        outbox = self._outbox()
        user = self._user(user_id)
        if user.email_verified:
            raise AlreadyVerified("this e-mail address is verified already")
        outbox.submit(lambda: self._send_verification(user.user_id, user.email), what="verification mail")

    def _send_verification(self, user_id: str, email: str) -> None:
        link = self._link("verify", user_id, "verify_email")
        self._outbox().send(
            to=email,
            subject="Confirm your e-mail address",
            text=(
                "Welcome to Mosaic Studio. Confirm that this address is yours by opening this link:\n\n"
                f"{link}\n\nThe link works once, for {_TTL_TEXT}. "
                "If you did not sign up, ignore this mail.\n"
            ),
        )

    def verify(self, *, token: str) -> str:
        """Use a verification token; the verified e-mail."""
        row = self._token_row(token, "verify_email")
        committed = self.ledger.verify_email(user_id=UUID(row.user_id), token=token)
        self.settle(committed)
        return committed.value

    # -- password reset ---------------------------------------------------------------------------

    def forgot(self, *, email: str) -> None:
        """Mail a reset link if `email` is a user's; the same, at once, if it is nobody's."""
        outbox = self._outbox()
        email = checked_email(email)
        outbox.submit(lambda: self._send_reset(email), what="password reset mail")

    def _send_reset(self, email: str) -> None:
        user = self.views.user_by_email(email)
        if user is None:
            return
        link = self._link("reset", user.user_id, "reset_password")
        self._outbox().send(
            to=user.email,
            subject="Reset your password",
            text=(
                "Someone (we hope you) asked to reset the password of your Mosaic Studio account. "
                f"Choose a new password here:\n\n{link}\n\nThe link works once, for {_TTL_TEXT}; "
                "using it signs you out everywhere. If you did not ask, ignore this mail: "
                "your password stays as it is.\n"
            ),
        )

    def reset(self, *, token: str, password: str) -> PasswordReset:
        """Use a reset token: the new password, every session of the user ended."""
        check_password(password)
        row = self._token_row(token, "reset_password")
        committed = self.ledger.reset_password(user_id=UUID(row.user_id), token=token, password=password)
        self.settle(committed)
        return PasswordReset(row.user_id, committed.value)

    # -- helpers ----------------------------------------------------------------------------------

    def _link(self, page: str, user_id: str, purpose: str) -> str:
        """A new token of `purpose`, recorded (settled: the link works at once), as its page's link."""
        token = secrets.token_urlsafe(TOKEN_BYTES)
        self.settle(self.ledger.issue_mail_token(user_id=UUID(user_id), purpose=purpose, token=token))
        return f"{self.public_url}/{page}?token={token}"

    def _token_row(self, token: str, purpose: str) -> MailTokenRow:
        if not (0 < len(token) <= MAIL_TOKEN_CHARS_MAX and token.isascii()):
            raise MailTokenInvalid("this link's token is not valid; ask for a new mail")
        row = self.views.mail_token(mail_token_hash(token))
        if row is None or row.purpose != purpose:
            raise MailTokenInvalid("this link's token is not valid; ask for a new mail")
        return row

    def close(self) -> None:
        if self.outbox is not None:
            self.outbox.close()

    def _user(self, user_id: str) -> UserRow:
        user = self.views.user(user_id)
        if user is None:
            raise NotFound(f"no user {user_id}")
        return user
