"""The usage ledger: one record per finished request, sinks, and the usage report."""

from .record import FIELDS, PENDING, UsageRecord, as_pending, make_record
from .report import Report, ReportError, parse_by, parse_since, render_csv, render_json, render_table, summarize
from .sinks import DEFAULT_LEDGER, JsonlSink, LedgerError, PostgresSink, Sink, SqliteSink, open_sink
from .writer import Ledger

__all__ = [
    "DEFAULT_LEDGER",
    "FIELDS",
    "JsonlSink",
    "Ledger",
    "LedgerError",
    "PENDING",
    "PostgresSink",
    "Report",
    "ReportError",
    "Sink",
    "SqliteSink",
    "UsageRecord",
    "as_pending",
    "make_record",
    "open_sink",
    "parse_by",
    "parse_since",
    "render_csv",
    "render_json",
    "render_table",
    "summarize",
]
