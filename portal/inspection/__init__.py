"""Quarterly inspections 抽查: samples, checklists, findings, rectification (issue 7)."""
