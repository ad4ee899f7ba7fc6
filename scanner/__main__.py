"""``python -m scanner`` is the ``privscan`` command."""

from scanner.cli import main

main()
