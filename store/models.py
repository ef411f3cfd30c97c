"""Every mapped model, imported in one place so the metadata is complete (Alembic, tests)."""

from store.accounts.models import Account, Learner, Login, PasswordReset
from store.base import Base
from store.catalog.models import Bundle, Course, Publisher
from store.content.models import CourseContentVersion
from store.progress.models import CourseProgress
from store.mail.models import MailMessage
from store.ratelimit.models import RateLimitCounter
from store.licenses.models import (
    CourseLaunch,
    DepositEntry,
    LaunchRefusal,
    PlusSubscription,
    PpuConfig,
    PpuLibraryEntry,
    Seat,
    VolumeLot,
)

__all__ = [
    "Account",
    "Base",
    "Bundle",
    "Course",
    "CourseContentVersion",
    "CourseLaunch",
    "CourseProgress",
    "DepositEntry",
    "LaunchRefusal",
    "Learner",
    "Login",
    "MailMessage",
    "PasswordReset",
    "PlusSubscription",
    "PpuConfig",
    "PpuLibraryEntry",
    "Publisher",
    "RateLimitCounter",
    "Seat",
    "VolumeLot",
]
