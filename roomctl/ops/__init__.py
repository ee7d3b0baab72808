"""Running roomctl on a Raspberry Pi: install, systemd watchdog, journald logging, backups, Pi checks."""
