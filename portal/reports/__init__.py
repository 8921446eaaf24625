"""Printable registers 台账: the archive ledger, the registers' PDF/Excel forms, handovers 移交 (issue 7)."""
