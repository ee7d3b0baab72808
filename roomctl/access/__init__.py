"""Door access: readers, the fail-secure door, decisions and the audit trail."""
