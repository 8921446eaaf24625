"""Destruction 销毁: applications, approvals, execution, certificates (issue 7)."""
