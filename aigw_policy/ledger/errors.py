"""The ledger's one error (its own module: every sink raises it, ``sinks.open_sink`` opens them all)."""

__all__ = ["LedgerError"]


class LedgerError(Exception):
    """The ledger could not be opened, written or read (message names the sink)."""
