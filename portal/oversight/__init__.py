"""Oversight: KPI dashboard, monthly checks and reminders (issue 7)."""
