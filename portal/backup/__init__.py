"""Backups 备份: the key vault, backup/restore/verify and the backup register (issue 7)."""
