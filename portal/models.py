"""Import every model module so that SQLAlchemy's metadata (and Alembic) know all tables."""
# issue 7: each package's models module imports its tables
import portal.backup.models  # noqa: F401,E402
import portal.destruction.models  # noqa: F401,E402
import portal.inspection.models  # noqa: F401,E402
import portal.oversight.models  # noqa: F401,E402
import portal.reports.models  # noqa: F401,E402
import portal.retention.models  # noqa: F401,E402
from portal.admin.models import CustomerType, Setting  # noqa: F401
from portal.archives.models import (  # noqa: F401
    Anniversary,
    Archive,
    ArchiveNumberSequence,
    Communication,
    Contact,
    Cooperation,
    Feedback,
    ServiceRecord,
    Transaction,
)
from portal.auth.models import ApiToken, Department, LoginThrottle, User  # noqa: F401
from portal.documents.models import ArchiveKey, Document, DocumentEvent, DocumentVersion  # noqa: F401
from portal.intake.models import IntakeItem, IntakePage  # noqa: F401
from portal.jobs.models import Job  # noqa: F401
from portal.notifications import Notification, NotificationAddress  # noqa: F401
from portal.register.models import RegisterEntry, RegisterHead  # noqa: F401
from portal.search.models import SearchOutbox  # noqa: F401
from portal.workcal import CalendarDay  # noqa: F401
from portal.workflows.borrowing_models import Loan, LoanEvent, LoanItem, LoanReminder  # noqa: F401
from portal.workflows.requests import ChangeItem, ChangeRequest, QueryRequest  # noqa: F401
