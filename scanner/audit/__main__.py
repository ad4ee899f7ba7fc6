"""``python -m scanner.audit ARGS``: privscan's command line with the audit commands registered.

Why: the audit commands join ``privscan`` through ``register(cli)``; until (and
whether or not) scanner/cli.py makes that call, tests and early users run them
as ``python -m scanner.audit audit CONFIG.yaml`` with the same exit statuses and
one-line errors as ``privscan``.
"""

from __future__ import annotations

from scanner.audit.commands import register
from scanner.cli import cli, main

register(cli)
main()
