"""Allow ``python -m roomctl``."""

from roomctl.cli import main

main()
