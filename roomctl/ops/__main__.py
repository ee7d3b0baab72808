"""``python -m roomctl.ops``: install, backup, restore, check-config without the rest of the CLI."""

from roomctl.ops.cli import main

main()
