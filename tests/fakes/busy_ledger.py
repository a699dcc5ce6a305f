"""A ledger writer that answers `LedgerBusy` to settling commands, as a lock timeout would."""

from __future__ import annotations

from typing import Any

import pytest

from mosaic.commands.paid import SettleCharges
from mosaic.commands.writer import Command, Committed, LedgerBusy, Writer


class BusySettling:
    """Refuses the next `captures` settlements that capture and `releases` that only release."""

    def __init__(self, writer: Writer, *, captures: int, releases: int) -> None:
        self._execute = writer.execute
        self.captures_left = captures
        self.releases_left = releases
        self.refused = 0

    def __call__(self, command: Command[Any]) -> Committed[Any]:
        if isinstance(command, SettleCharges):
            if command.captures and self.captures_left > 0:
                self.captures_left -= 1
                self._refuse()
            if not command.captures and self.releases_left > 0:
                self.releases_left -= 1
                self._refuse()
        return self._execute(command)

    def _refuse(self) -> None:
        self.refused += 1
        raise LedgerBusy("injected fault: the ledger database is busy")


def busy_settling(
    monkeypatch: pytest.MonkeyPatch, writer: Writer, *, captures: int = 0, releases: int = 0
) -> BusySettling:
    fake = BusySettling(writer, captures=captures, releases=releases)
    monkeypatch.setattr(writer, "execute", fake)
    return fake
