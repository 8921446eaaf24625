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
}


def label(action: str) -> str:
    return str(LABELS.get(action, action))
