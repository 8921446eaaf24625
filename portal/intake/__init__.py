"""Scan intake: pages of scanned files, OCR, cover sheets (issue 4)."""
