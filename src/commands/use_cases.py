"""Every use case one process offers its edges (the HTTP app, the CLI), built by the composition root.

The edges call these and nothing below them: no store, no writer, no SQL.
"""

from __future__ import annotations

from dataclasses import dataclass

from mosaic.commands.account_mail import AccountMail
from mosaic.commands.billing import Billing
from mosaic.commands.generate import Generate
from mosaic.commands.idempotency import IdempotencyStore
from mosaic.commands.lifecycle import Background
from mosaic.commands.owners import Owners
from mosaic.commands.support import Support
from mosaic.queries.audit_reads import AuditReads
from mosaic.queries.health import Health
from mosaic.queries.runner import ProjectionRunner
from mosaic.queries.views import Views


@dataclass(frozen=True, slots=True)
class UseCases:
    generate: Generate
    owners: Owners
    mail: AccountMail
    billing: Billing
    support: Support
    views: Views
    audit: AuditReads
    health: Health
    idempotency: IdempotencyStore
    runner: ProjectionRunner  # its position tells caches whether the views moved
    background: Background
