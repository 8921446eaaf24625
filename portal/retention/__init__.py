"""Retention rules, termination reviews and holds 冻结 (issue 7)."""
