"""Read functions over the views. They never change anything."""

from __future__ import annotations

from dataclasses import dataclass

from mosaic.domain.accounts import KEYS_PER_ACCOUNT_MAX
from mosaic.queries.db import Database
from mosaic.queries.projections import VIEW_TABLES

STATEMENT_PAGE_MAX = 500
KEYS_LIST_MAX = 1_000
# The key list shows active keys first and every account's active keys fit: only revoked history is cut.
assert KEYS_PER_ACCOUNT_MAX < KEYS_LIST_MAX

_KEY_SELECT = (
    "SELECT k.key_id, k.account_id, k.user_id, k.name, k.prefix, k.created_at, k.revoked_at, "
    "u.last_used_at FROM api_keys k LEFT JOIN key_usage u ON u.key_id = k.key_id "
)


@dataclass(frozen=True, slots=True)
class Balance:
    account_id: str
    balance: int
    monthly_quota: int
    plan_name: str
    sub_status: str
    api_access: bool
    reserved_credits: int


@dataclass(frozen=True, slots=True)
class AccountSummary:
    """An account as support staff see it: its owner and its balance."""

    account_id: str
    user_id: str
    email: str
    role: str
    balance: int
    monthly_quota: int
    plan_name: str
    sub_status: str


@dataclass(frozen=True, slots=True)
class UserRow:
    user_id: str
    email: str
    role: str
    account_id: str
    password_hash: str
    email_verified: bool
    token_version: int


@dataclass(frozen=True, slots=True)
class MailTokenRow:
    user_id: str
    purpose: str


@dataclass(frozen=True, slots=True)
class KeyRow:
    key_id: str
    account_id: str
    user_id: str
    name: str
    prefix: str
    created_at: str
    revoked_at: str | None
    last_used_at: str | None


@dataclass(frozen=True, slots=True)
class KeyGrant:
    """What an API key lookup needs: whose key, and may that account use the API right now."""

    key_id: str
    account_id: str
    user_id: str
    revoked: bool
    api_access: bool
    sub_status: str


@dataclass(frozen=True, slots=True)
class BillingRow:
    """An account's payment customer and live subscription ("" where there is none)."""

    account_id: str
    customer_id: str
    subscription_id: str
    period_ends_at: str


@dataclass(frozen=True, slots=True)
class StatementLine:
    line: int
    position: int
    at: str
    kind: str
    reference: str | None
    tool: str | None
    delta_credits: int
    balance_after: int
    reason: str | None
    actor: str | None


@dataclass(frozen=True, slots=True)
class RefundLine:
    at: str
    amount_credits: int
    reason: str | None
    issued_by: str | None


@dataclass(frozen=True, slots=True)
class ChargeRow:
    charge_id: str
    account_id: str
    tool: str
    summary: str
    cost_credits: int
    refunded_credits: int
    captured_at: str
    refunds: tuple[RefundLine, ...] = ()


@dataclass(frozen=True, slots=True)
class StatementSearch:
    """Which statement lines to show: one kind, one tool, and `at` from `since` up to (not including)
    `before` (ISO dates or times; empty: no bound)."""

    kind: str = ""
    tool: str = ""
    since: str = ""
    before: str = ""

    def where(self, account_id: str) -> tuple[str, tuple[object, ...]]:
        clauses, args = ["account_id = ?"], [account_id]
        for column, operator, value in (
            ("kind", "=", self.kind), ("tool", "=", self.tool),
            ("at", ">=", self.since), ("at", "<", self.before),
        ):
            if value:
                clauses.append(f"{column} {operator} ?")
                args.append(value)
        return " AND ".join(clauses), tuple(args)


class Views:
    def __init__(self, db: Database) -> None:
        self.db = db

    def balance(self, account_id: str) -> Balance | None:
        with self.db.read() as tx:
            row = tx.one(
                "SELECT settled_credits - reserved_credits, monthly_quota, plan_name, sub_status, "
                "api_access, reserved_credits FROM balances WHERE account_id = ?",
                (account_id,),
            )
        if row is None:
            return None
        return Balance(account_id, int(row[0]), int(row[1]), row[2], row[3], bool(row[4]), int(row[5]))

    def billing(self, account_id: str) -> BillingRow:
        with self.db.read() as tx:
            row = tx.one(
                "SELECT customer_id, subscription_id, period_ends_at FROM billing_accounts "
                "WHERE account_id = ?",
                (account_id,),
            )
        return BillingRow(account_id, *row) if row else BillingRow(account_id, "", "", "")

    def user_by_email(self, email: str) -> UserRow | None:
        return self._user("email", email)

    def user_of_account(self, account_id: str) -> UserRow | None:
        return self._user("account_id", account_id)

    def user(self, user_id: str) -> UserRow | None:
        return self._user("user_id", user_id)

    def _user(self, column: str, value: str) -> UserRow | None:
        assert column in ("email", "account_id", "user_id")
        with self.db.read() as tx:
            row = tx.one(
                "SELECT user_id, email, role, account_id, password_hash, email_verified, token_version "
                f"FROM users WHERE {column} = ?",
                (value,),
            )
        if row is None:
            return None
        return UserRow(row[0], row[1], row[2], row[3], row[4], bool(row[5]), int(row[6]))

    def token_version(self, user_id: str) -> int | None:
        """The user's session version (None: no such user), for the check on each sign-in token."""
        with self.db.read() as tx:
            row = tx.one("SELECT token_version FROM users WHERE user_id = ?", (user_id,))
        return int(row[0]) if row else None

    def mail_token(self, token_hash: str) -> MailTokenRow | None:
        with self.db.read() as tx:
            row = tx.one("SELECT user_id, purpose FROM mail_tokens WHERE token_hash = ?", (token_hash,))
        return MailTokenRow(*row) if row else None

    def account_summary(self, account_id: str) -> AccountSummary | None:
        balance = self.balance(account_id)
        if balance is None:
            return None
        owner = self.user_of_account(account_id)
        assert owner is not None, "every account has its owner"
        return AccountSummary(
            account_id, owner.user_id, owner.email, owner.role, balance.balance, balance.monthly_quota,
            balance.plan_name, balance.sub_status,
        )

    def key_grant(self, key_hash: str) -> KeyGrant | None:
        with self.db.read() as tx:
            row = tx.one(
                "SELECT k.key_id, k.account_id, k.user_id, k.revoked_at, b.api_access, b.sub_status "
                "FROM api_keys k JOIN balances b ON b.account_id = k.account_id WHERE k.key_hash = ?",
                (key_hash,),
            )
        if row is None:
            return None
        return KeyGrant(row[0], row[1], row[2], row[3] is not None, bool(row[4]), row[5])

    def key(self, key_id: str) -> KeyRow | None:
        with self.db.read() as tx:
            row = tx.one(_KEY_SELECT + "WHERE k.key_id = ?", (key_id,))
        return KeyRow(*row) if row else None

    def keys_of_user(self, user_id: str) -> list[KeyRow]:
        """The user's keys: active ones first, newest first within each; at most KEYS_LIST_MAX."""
        with self.db.read() as tx:
            rows = tx.all(
                _KEY_SELECT + "WHERE k.user_id = ? "
                "ORDER BY k.revoked_at IS NOT NULL, k.created_at DESC, k.key_id DESC LIMIT ?",
                (user_id, KEYS_LIST_MAX),
            )
        return [KeyRow(*row) for row in rows]

    def statement(self, account_id: str, *, after_line: int = 0, limit: int = 100) -> list[StatementLine]:
        assert 0 < limit <= STATEMENT_PAGE_MAX
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT line, position, at, kind, reference, tool, delta_credits, balance_after, "
                "reason, actor FROM statement WHERE account_id = ? AND line > ? ORDER BY line LIMIT ?",
                (account_id, after_line, limit),
            )
        return [StatementLine(*row) for row in rows]

    def statement_search(
        self, account_id: str, search: StatementSearch, *, offset: int = 0, limit: int = 100
    ) -> tuple[list[StatementLine], int]:
        """One page of the statement's lines that match `search`, oldest first, and how many match."""
        assert 0 < limit <= STATEMENT_PAGE_MAX and offset >= 0
        where, args = search.where(account_id)
        with self.db.read() as tx:
            total = tx.one(f"SELECT COUNT(*) FROM statement WHERE {where}", args)
            rows = tx.all(
                "SELECT line, position, at, kind, reference, tool, delta_credits, balance_after, "
                f"reason, actor FROM statement WHERE {where} ORDER BY line LIMIT ? OFFSET ?",
                (*args, limit, offset),
            )
        return [StatementLine(*row) for row in rows], int(total[0]) if total else 0

    def charge(self, charge_id: str) -> ChargeRow | None:
        with self.db.read() as tx:
            row = tx.one(
                "SELECT charge_id, account_id, tool, summary, cost_credits, refunded_credits, captured_at "
                "FROM charges WHERE charge_id = ?",
                (charge_id,),
            )
        return ChargeRow(*row) if row else None

    def charges_of(self, account_id: str, *, after: str = "", limit: int = 100) -> list[ChargeRow]:
        """The account's captured charges (ordered by id, paged by `after`), each with its refunds."""
        assert 0 < limit <= STATEMENT_PAGE_MAX
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT charge_id, account_id, tool, summary, cost_credits, refunded_credits, captured_at "
                "FROM charges WHERE account_id = ? AND charge_id > ? ORDER BY charge_id LIMIT ?",
                (account_id, after, limit),
            )
            refunds: dict[str, list[RefundLine]] = {}
            if rows:
                for ref, at, delta, reason, actor in tx.all(
                    "SELECT reference, at, delta_credits, reason, actor FROM statement "
                    "WHERE account_id = ? AND kind = 'refund' AND reference >= ? AND reference <= ? "
                    "ORDER BY line",
                    (account_id, rows[0][0], rows[-1][0]),
                ):
                    refunds.setdefault(ref, []).append(RefundLine(at, int(delta), reason, actor))
        return [
            ChargeRow(
                charge_id=row[0],
                account_id=row[1],
                tool=row[2],
                summary=row[3],
                cost_credits=int(row[4]),
                refunded_credits=int(row[5]),
                captured_at=row[6],
                refunds=tuple(refunds.get(row[0], ())),
            )
            for row in rows
        ]

    def account_ids(self) -> list[str]:
        with self.db.read() as tx:
            return [row[0] for row in tx.all("SELECT account_id FROM balances ORDER BY account_id")]

    def accounts_with_reservations_before(self, reserved_before_iso: str) -> list[str]:
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT DISTINCT account_id FROM open_reservations WHERE reserved_at < ? ORDER BY account_id",
                (reserved_before_iso,),
            )
        return [row[0] for row in rows]

    def chain_head(self) -> tuple[int, str] | None:
        """The audit chain's newest (position, hash), or None before the first event."""
        with self.db.read() as tx:
            row = tx.one("SELECT position, hash FROM audit_chain ORDER BY position DESC LIMIT 1")
        return (int(row[0]), str(row[1])) if row else None

    def dump(self) -> dict[str, list[tuple[object, ...]]]:
        """Every view row, ordered: what a rebuild must reproduce exactly."""
        with self.db.read() as tx:
            return {table: sorted(tx.all(f"SELECT * FROM {table}"), key=repr) for table in VIEW_TABLES}
