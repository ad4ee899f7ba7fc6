"""privscan: a privacy-audit scanner for telecom data flows."""

__version__ = "0.1.0"
