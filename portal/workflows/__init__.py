"""Policy workflows (issue 5): borrowing of paper files, query requests, change requests.

`borrowing.py` (loans), `requests.py` (query and change requests) and `inbox.py` (what waits for
whom) share the working-day calendar in `portal.workcal`.
"""
