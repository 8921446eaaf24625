"""Register action codes and their labels."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

LOGIN = "login"
LOGIN_FAILED = "login_failed"
LOGIN_LOCKED = "login_locked"
LOGOUT = "logout"
SESSION_EXPIRED = "session_expired"
ACCESS_DENIED = "access_denied"
ARCHIVE_VIEW = "archive_view"
ARCHIVE_LIST = "archive_list"
ARCHIVE_CREATE = "archive_create"
ARCHIVE_UPDATE = "archive_update"
ARCHIVE_SUBMIT = "archive_submit"
ARCHIVE_APPROVE = "archive_approve"
ARCHIVE_REJECT = "archive_reject"
ARCHIVE_FILE = "archive_file"
ARCHIVE_WITHDRAW = "archive_withdraw"
ARCHIVE_DELETE = "archive_delete"
SUBRECORD_ADD = "subrecord_add"
SUBRECORD_EDIT = "subrecord_edit"
SUBRECORD_DELETE = "subrecord_delete"
REGISTER_VIEW = "register_view"
REGISTER_PRINT = "register_print"
REGISTER_VERIFY = "register_verify"
REGISTER_EXPORT = "register_export"
USER_CREATE = "user_create"
USER_UPDATE = "user_update"
USER_UNLOCK = "user_unlock"
DEPARTMENT_SAVE = "department_save"
CUSTOMER_TYPE_SAVE = "customer_type_save"
SETTING_CHANGE = "setting_change"
TOKEN_CREATE = "token_create"
TOKEN_REVOKE = "token_revoke"
DOCUMENT_UPLOAD = "document_upload"
DOCUMENT_REPLACE = "document_replace"
DOCUMENT_EDIT = "document_edit"
DOCUMENT_VIEW = "document_view"
DOCUMENT_DOWNLOAD = "document_download"
DOCUMENT_PRINT = "document_print"
FIXITY_CHECK = "fixity_check"
FIXITY_FAILURE = "fixity_failure"
SEARCH = "search"
SEARCH_REINDEX = "search_reindex"
# borrowing of paper files 借阅 and the working-day calendar (issue 5)
BORROW_APPLY = "borrow_apply"
BORROW_APPROVE = "borrow_approve"
BORROW_REJECT = "borrow_reject"
BORROW_WITHDRAW = "borrow_withdraw"
BORROW_LEND = "borrow_lend"
BORROW_EXTEND_REQUEST = "borrow_extend_request"
BORROW_EXTEND_APPROVE = "borrow_extend_approve"
BORROW_EXTEND_REJECT = "borrow_extend_reject"
BORROW_RETURN = "borrow_return"
BORROW_REMIND = "borrow_remind"
BORROW_REGISTER_PRINT = "borrow_register_print"
BORROW_REGISTER_EXPORT = "borrow_register_export"
CALENDAR_CHANGE = "calendar_change"
# query requests 查询申请 and change requests 变更申请 (issue 5)
QUERY_REQUEST = "query_request"
QUERY_APPROVE = "query_approve"
QUERY_REJECT = "query_reject"
QUERY_WITHDRAW = "query_withdraw"
CHANGE_REQUEST = "change_request"
CHANGE_APPROVE = "change_approve"
CHANGE_REJECT = "change_reject"
CHANGE_WITHDRAW = "change_withdraw"
CHANGE_APPLY = "change_apply"
CHANGE_LOG_PRINT = "change_log_print"
CHANGE_LOG_EXPORT = "change_log_export"
# scan intake 扫描收件 (issue 4)
INTAKE_RECEIVE = "intake_receive"
INTAKE_SPLIT = "intake_split"
INTAKE_FILE = "intake_file"
INTAKE_QUEUE = "intake_queue"
INTAKE_ASSIGN = "intake_assign"
INTAKE_REJECT = "intake_reject"
INTAKE_RETRY = "intake_retry"
INTAKE_REFUSE = "intake_refuse"
INTAKE_FAIL = "intake_fail"
INTAKE_DOWNLOAD = "intake_download"
INTAKE_VIEW = "intake_view"
COVER_SHEET_PRINT = "cover_sheet_print"
# Retention, destruction, backups, registers and oversight (issue 7)
RETENTION_RULE_SAVE = "retention_rule_save"
RETENTION_REVIEW = "retention_review"
HOLD_PLACE = "hold_place"
HOLD_LIFT = "hold_lift"
DESTRUCTION_APPLY = "destruction_apply"
DESTRUCTION_APPROVE = "destruction_approve"
DESTRUCTION_REJECT = "destruction_reject"
DESTRUCTION_WITHDRAW = "destruction_withdraw"
DESTRUCTION_EXECUTE = "destruction_execute"
DESTRUCTION_PRINT = "destruction_print"
PIPL_REQUEST = "pipl_request"
KEY_DESTROY = "key_destroy"
BACKUP_RUN = "backup_run"
BACKUP_VERIFY = "backup_verify"
BACKUP_RESTORE = "backup_restore"
LEDGER_PRINT = "ledger_print"
HANDOVER = "handover"
INSPECTION_DRAW = "inspection_draw"
INSPECTION_CHECK = "inspection_check"
INSPECTION_CLOSE = "inspection_close"
RECTIFICATION_ASSIGN = "rectification_assign"
RECTIFICATION_CLOSE = "rectification_close"
RECTIFICATION_REPORT = "rectification_report"
RECTIFICATION_RETURN = "rectification_return"
MONTHLY_CHECK = "monthly_check"
KPI_VIEW = "kpi_view"
# housekeeping of staging data (intake page texts, finished jobs; portal.housekeeping)
HOUSEKEEPING = "housekeeping"

LABELS = {
    LOGIN: _l("Log in"),
    LOGIN_FAILED: _l("Failed log-in"),
    LOGIN_LOCKED: _l("Account locked"),
    LOGOUT: _l("Log out"),
    SESSION_EXPIRED: _l("Session expired"),
    ACCESS_DENIED: _l("Access refused"),
    ARCHIVE_VIEW: _l("View archive"),
    ARCHIVE_LIST: _l("List archives"),
    ARCHIVE_CREATE: _l("Create archive"),
    ARCHIVE_UPDATE: _l("Edit archive"),
    ARCHIVE_SUBMIT: _l("Submit for review"),
    ARCHIVE_APPROVE: _l("Approve"),
    ARCHIVE_REJECT: _l("Reject"),
    ARCHIVE_FILE: _l("File archive"),
    ARCHIVE_WITHDRAW: _l("Withdraw submission"),
    ARCHIVE_DELETE: _l("Delete draft"),
    SUBRECORD_ADD: _l("Add record"),
    SUBRECORD_EDIT: _l("Edit record"),
    SUBRECORD_DELETE: _l("Delete record"),
    REGISTER_VIEW: _l("View register"),
    REGISTER_PRINT: _l("Print register"),
    REGISTER_VERIFY: _l("Verify register"),
    REGISTER_EXPORT: _l("Export register"),
    USER_CREATE: _l("Create user"),
    USER_UPDATE: _l("Change user"),
    USER_UNLOCK: _l("Unlock user"),
    DEPARTMENT_SAVE: _l("Save department"),
    CUSTOMER_TYPE_SAVE: _l("Save customer type"),
    SETTING_CHANGE: _l("Change setting"),
    TOKEN_CREATE: _l("Create API token"),
    TOKEN_REVOKE: _l("Revoke API token"),
    DOCUMENT_UPLOAD: _l("Upload document"),
    DOCUMENT_REPLACE: _l("Replace document file"),
    DOCUMENT_EDIT: _l("Edit document details"),
    DOCUMENT_VIEW: _l("View document"),
    DOCUMENT_DOWNLOAD: _l("Download document"),
    DOCUMENT_PRINT: _l("Print document"),
    FIXITY_CHECK: _l("Integrity check of stored files"),
    FIXITY_FAILURE: _l("Stored file failed its integrity check"),
    SEARCH: _l("Search"),
    SEARCH_REINDEX: _l("Rebuild search index"),
    BORROW_APPLY: _l("Apply to borrow paper file"),
    BORROW_APPROVE: _l("Approve loan"),
    BORROW_REJECT: _l("Reject loan"),
    BORROW_WITHDRAW: _l("Withdraw loan application"),
    BORROW_LEND: _l("Lend paper file"),
    BORROW_EXTEND_REQUEST: _l("Request loan extension"),
    BORROW_EXTEND_APPROVE: _l("Approve loan extension"),
    BORROW_EXTEND_REJECT: _l("Reject loan extension"),
    BORROW_RETURN: _l("Return paper file"),
    BORROW_REMIND: _l("Overdue loan reminder"),
    BORROW_REGISTER_PRINT: _l("Print borrowing register"),
    BORROW_REGISTER_EXPORT: _l("Export borrowing register"),
    CALENDAR_CHANGE: _l("Change working-day calendar"),
    QUERY_REQUEST: _l("Request query access"),
    QUERY_APPROVE: _l("Approve query request"),
    QUERY_REJECT: _l("Reject query request"),
    QUERY_WITHDRAW: _l("Withdraw query request"),
    CHANGE_REQUEST: _l("Propose archive change"),
    CHANGE_APPROVE: _l("Approve archive change"),
    CHANGE_REJECT: _l("Reject archive change"),
    CHANGE_WITHDRAW: _l("Withdraw archive change"),
    CHANGE_APPLY: _l("Apply archive change"),
    CHANGE_LOG_PRINT: _l("Print change log"),
    CHANGE_LOG_EXPORT: _l("Export change log"),
    INTAKE_RECEIVE: _l("Intake: file received"),
    INTAKE_SPLIT: _l("Intake: batch split at cover sheets"),
    INTAKE_FILE: _l("Intake: filed as a document"),
    INTAKE_QUEUE: _l("Intake: waiting for assignment"),
    INTAKE_ASSIGN: _l("Intake: assigned"),
    INTAKE_REJECT: _l("Intake: rejected"),
    INTAKE_RETRY: _l("Intake: retried"),
    INTAKE_REFUSE: _l("Intake: file refused"),
    INTAKE_FAIL: _l("Intake: processing failed"),
    INTAKE_DOWNLOAD: _l("Intake: original downloaded"),
    INTAKE_VIEW: _l("Intake: item viewed"),
    COVER_SHEET_PRINT: _l("Cover sheet printed"),
    RETENTION_RULE_SAVE: _l("Retention rule saved"),
    RETENTION_REVIEW: _l("Termination review decided"),
    HOLD_PLACE: _l("Archive put on hold"),
    HOLD_LIFT: _l("Hold lifted"),
    DESTRUCTION_APPLY: _l("Destruction applied for"),
    DESTRUCTION_APPROVE: _l("Destruction approved"),
    DESTRUCTION_REJECT: _l("Destruction rejected"),
    DESTRUCTION_WITHDRAW: _l("Destruction application withdrawn"),
    DESTRUCTION_EXECUTE: _l("Archive destroyed"),
    DESTRUCTION_PRINT: _l("Destruction certificate printed"),
    PIPL_REQUEST: _l("Customer deletion request recorded"),
    KEY_DESTROY: _l("Archive data key destroyed"),
    BACKUP_RUN: _l("Backup written"),
    BACKUP_VERIFY: _l("Backup verified"),
    BACKUP_RESTORE: _l("Backup restored"),
    LEDGER_PRINT: _l("Register printed or exported"),
    HANDOVER: _l("Archives handed over"),
    INSPECTION_DRAW: _l("Inspection sample drawn"),
    INSPECTION_CHECK: _l("Inspection check recorded"),
    INSPECTION_CLOSE: _l("Inspection closed"),
    RECTIFICATION_ASSIGN: _l("Rectification assigned"),
    RECTIFICATION_CLOSE: _l("Rectification closed"),
    RECTIFICATION_REPORT: _l("Rectification reported done"),
    RECTIFICATION_RETURN: _l("Rectification sent back"),
    MONTHLY_CHECK: _l("Monthly check recorded"),
    KPI_VIEW: _l("KPI dashboard viewed"),
    HOUSEKEEPING: _l("Housekeeping: staging data cleared"),
}


def label(action: str) -> str:
    return str(LABELS.get(action, action))
