"""`mosaic audit …`: export the log, sign a digest of its head, verify a database or an export."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mosaic.cli.admin import build_services, fail, with_services
from mosaic.commands.schema import SchemaOutOfDate
from mosaic.config import ConfigError, Settings
from mosaic.queries import digest as digests
from mosaic.queries.audit import Report
from mosaic.queries.audit_log import export, verify_database, verify_export
from mosaic.queries.audit_reads import EmptyLog
from mosaic.queries.digest import Digest

if TYPE_CHECKING:
    from mosaic.bootstrap import Services

DISCREPANCIES_SHOWN_MAX = 20


def _load_digest(path: str | None) -> Digest | None:
    if path is None:
        return None
    try:
        return digests.load(Path(path).read_bytes())
    except (OSError, ValueError) as exc:
        raise SystemExit(fail(f"cannot read the digest {path}: {exc}")) from exc


def print_report(report: Report, out: Any = None) -> None:
    out = sys.stdout if out is None else out  # looked up now: a default would pin the stream at import
    status = "OK" if report.ok else "FAILED" if report.discrepancies else "NOT VERIFIED"
    print(
        f"audit {status}: {report.events:,} events, {report.accounts:,} accounts, {report.keys:,} keys",
        file=out,
    )
    print(f"head: position {report.head_position} hash {report.head_hash}", file=out)
    print(
        f"time: {report.seconds:.2f} s ({report.events / max(report.seconds, 1e-9):,.0f} events/s)", file=out
    )
    for note in report.notes:
        print(f"note: {note}", file=out)
    for claim in report.unverified:
        print(f"warning: {claim}", file=out)
    print(f"discrepancies: {len(report.discrepancies)}", file=out)
    for position, message in sorted(report.discrepancies)[:DISCREPANCIES_SHOWN_MAX]:
        print(f"  position {position}: {message}", file=out)
    if report.first_bad_position is not None:
        print(f"first bad position: {report.first_bad_position}", file=out)
    bound = report.changed_at_or_before
    if bound is not None and (report.first_bad_position is None or report.first_bad_position > bound):
        print(
            f"changed at or before position {bound}: the digest covers the log up to there and no longer "
            "matches it; which event changed can be named only against an older export or digest",
            file=out,
        )


def _verify(args: argparse.Namespace) -> int:
    digest = _load_digest(args.digest)
    if args.from_export:
        try:
            with open(args.from_export, "rb") as lines:
                report = verify_export(lines, digest=digest, trusted_key=args.trusted_key)
        except OSError as exc:
            return fail(f"cannot read the export {args.from_export}: {exc}")
        except (ValueError, KeyError) as exc:
            return fail(f"the export {args.from_export} is not a Mosaic audit export: {exc}")
    else:
        try:
            services = build_services(Settings.from_env(existing=True), background=False)
        except (ConfigError, SchemaOutOfDate) as exc:
            return fail(str(exc))
        try:
            trusted = args.trusted_key or digests.public_key_hex(services.settings.secret)
            report = verify_database(services.db, digest=digest, trusted_key=trusted)
        finally:
            services.close()
    print_report(report)
    return 0 if report.ok else 1


def _progress(lines: Iterator[bytes], total: int) -> Iterator[bytes]:
    if not sys.stderr.isatty():
        yield from lines
        return
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("exporting", total=total)
        for line in lines:
            yield line
            progress.advance(task)


def _export(services: Services, args: argparse.Namespace) -> int:
    total = services.store.recorder.max_notification_id() or 0
    out = open(args.output, "wb") if args.output else sys.stdout.buffer  # noqa: SIM115
    try:
        count = 0
        for line in _progress(export(services.db, after=args.after), total):
            out.write(line + b"\n")
            count += 1
    finally:
        if args.output:
            out.close()
    print(f"exported {count:,} events", file=sys.stderr)
    return 0


def _digest(services: Services, args: argparse.Namespace) -> int:
    try:
        signed = services.use_cases.audit.digest()  # folds the views first: no background runner here
    except EmptyLog:
        return fail("the log is empty: nothing to sign")
    data = digests.dump(signed)
    if args.output:
        Path(args.output).write_bytes(data)
    else:
        sys.stdout.buffer.write(data)
    return 0


def add_audit_commands(commands: Any) -> None:
    audit = commands.add_parser("audit", help="auditors: export, digest, verify").add_subparsers(
        dest="audit", required=True
    )
    verify = audit.add_parser("verify", help="replay every event and check every rule and the chain")
    verify.add_argument("--digest", help="a digest saved earlier (`mosaic audit digest`)")
    verify.add_argument("--from-export", help="verify an export file, with no database at all")
    verify.add_argument(
        "--trusted-key",
        help="the Ed25519 public key (hex) digests must be signed with; with --from-export a digest "
        "counts as verified only with it (against the database, the server's own key is the default)",
    )
    verify.set_defaults(handler=_verify)
    exp = audit.add_parser("export", help="write the log as JSON lines with chain hashes")
    exp.add_argument("-o", "--output", help="file to write (default: stdout)")
    exp.add_argument("--after", type=int, default=0, help="only events after this position")
    exp.set_defaults(handler=with_services(_export))
    dig = audit.add_parser("digest", help="sign the chain's head (position and hash)")
    dig.add_argument("-o", "--output", help="file to write (default: stdout)")
    dig.set_defaults(handler=with_services(_digest))
