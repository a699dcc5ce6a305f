"""E-mails: what registration accepts, and what a lookup refuses before it reaches the database; mail
tokens (single-use, expiring, recorded by hash) and the session version a reset or new password moves."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from mosaic.domain.errors import InvalidInput, MailTokenExpired, MailTokenInvalid, MailTokenUsed
from mosaic.domain.users import User, checked_email, mail_token_hash, normalise_email

CONTROL_CHARS = ["\u0000", "\u0007", "\u001b", "\u007f", "\u0085", "\u200b", "\u202e", "\ufeff", "\ud800"]


def test_an_email_is_trimmed_and_lowercased() -> None:
    assert checked_email("  Ada@Example.COM\n") == "ada@example.com"


@pytest.mark.parametrize("char", CONTROL_CHARS)
def test_an_email_with_a_control_format_or_surrogate_character_is_refused(char: str) -> None:
    for email in (f"a{char}@x.com", f"ada@ex{char}ample.com", f"ad{char}a@example.com"):
        with pytest.raises(InvalidInput, match="control"):
            checked_email(email)


@pytest.mark.parametrize("char", CONTROL_CHARS)
def test_an_email_lookup_with_a_control_character_is_refused_not_sent_to_the_database(char: str) -> None:
    with pytest.raises(InvalidInput):
        normalise_email(f"a{char}@x.com")


@pytest.mark.parametrize(
    "email", ["a@x.com,b@y.com", "a@x.com; b@y.com", "ada@ex..com", "ada@localhost", "ada", "@x.com", "ada@"]
)
def test_a_list_of_addresses_or_a_malformed_one_is_refused_naming_the_problem(email: str) -> None:
    with pytest.raises(InvalidInput, match="email must be an e-mail address"):
        checked_email(email)


def test_letters_of_any_script_are_not_control_characters() -> None:
    assert checked_email("zoë@exämple.com") == "zoë@exämple.com"


# -- mail tokens and sessions ----------------------------------------------------------------------

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)
HASH_A, HASH_B = mail_token_hash("token-a"), mail_token_hash("token-b")


def _user() -> User:
    user = User.register(
        user_id=uuid.uuid4(), email="ada@example.com", password_hash="$argon2id$x", role="user",
        account_id=uuid.uuid4(),
    )
    user.collect_events()
    return user


def test_a_mail_token_is_recorded_by_its_sha256_only() -> None:
    user = _user()
    user.issue_mail_token(purpose="verify_email", token_hash=HASH_A, expires_at=NOW + timedelta(hours=1))
    (event,) = user.collect_events()
    assert hashlib.sha256(b"token-a").hexdigest() == HASH_A
    assert "token-a" not in repr(event.__dict__)


def test_a_verification_token_verifies_once() -> None:
    user = _user()
    user.issue_mail_token(purpose="verify_email", token_hash=HASH_A, expires_at=NOW + timedelta(hours=1))
    user.verify_email(token_hash=HASH_A, now=NOW)
    assert user.email_verified
    with pytest.raises(MailTokenUsed):
        user.verify_email(token_hash=HASH_A, now=NOW)


def test_an_expired_token_is_refused_and_changes_nothing() -> None:
    user = _user()
    user.issue_mail_token(purpose="reset_password", token_hash=HASH_A, expires_at=NOW + timedelta(hours=1))
    user.collect_events()
    with pytest.raises(MailTokenExpired):
        user.reset_password(token_hash=HASH_A, password_hash="$argon2id$new", now=NOW + timedelta(hours=1))
    assert user.collect_events() == [] and user.password_hash == "$argon2id$x"


def test_a_token_of_one_purpose_is_not_valid_for_the_other() -> None:
    user = _user()
    user.issue_mail_token(purpose="verify_email", token_hash=HASH_A, expires_at=NOW + timedelta(hours=1))
    with pytest.raises(MailTokenInvalid):
        user.reset_password(token_hash=HASH_A, password_hash="$argon2id$new", now=NOW)
    with pytest.raises(MailTokenInvalid):
        user.verify_email(token_hash=HASH_B, now=NOW)


def test_a_reset_sets_the_password_retires_other_reset_tokens_and_ends_every_session() -> None:
    user = _user()
    for token_hash in (HASH_A, HASH_B):
        user.issue_mail_token(purpose="reset_password", token_hash=token_hash, expires_at=NOW + timedelta(hours=1))
    user.reset_password(token_hash=HASH_B, password_hash="$argon2id$new", now=NOW)
    assert user.password_hash == "$argon2id$new" and user.token_version == 1
    with pytest.raises(MailTokenUsed):
        user.reset_password(token_hash=HASH_A, password_hash="$argon2id$other", now=NOW)


def test_a_password_change_ends_every_session_too() -> None:
    user = _user()
    user.change_password(password_hash="$argon2id$new")
    user.change_password(password_hash="$argon2id$newer")
    assert user.token_version == 2
