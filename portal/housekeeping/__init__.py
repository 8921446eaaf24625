"""Housekeeping of staging data 暂存数据清理: the copies intake and the job queue keep after an item is
finished (PIPL 第19条: personal information is kept no longer than its purpose needs).

- ``services.py``: ``run(actor, now=, dry_run=)`` clears the page texts of finished intake items
  and deletes old finished jobs; the two settings (``settings``, ``save_settings``);
  ``cleared_pages(item, pages)`` for the intake item page.
- ``cli.py``: ``portal housekeeping [--dry-run]`` (daily: deploy/systemd/portal-housekeeping.*).
- ``views.py``: the administrator's page ``/admin/housekeeping`` (the two settings, what is due).
"""
