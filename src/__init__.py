"""Mosaic Studio: printable coloring pages and mosaics, paid for in credits on an event-sourced ledger."""

__version__ = "0.1.0"
