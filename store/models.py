"""Every mapped model, imported in one place so the metadata is complete (Alembic, tests)."""

from store.accounts.models import Account, ClosureRequest, Learner, Login, PasswordReset, PersonKey
from store.base import Base
from store.catalog.models import Bundle, Course, Publisher
from store.content.models import CourseContentVersion
from store.invitations.models import Invitation
from store.jobs.models import Job
from store.orders.models import Cart, CartLine, Order, OrderLine, QuoteRequest, SubscriptionRenewal
from store.payments.models import LocalCharge, LocalPaymentMethod, LocalRefund
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
    "Cart",
    "CartLine",
    "ClosureRequest",
    "Course",
    "CourseContentVersion",
    "CourseLaunch",
    "CourseProgress",
    "DepositEntry",
    "Invitation",
    "Job",
    "LaunchRefusal",
    "Learner",
    "Login",
    "MailMessage",
    "PasswordReset",
    "PersonKey",
    "LocalCharge",
    "LocalPaymentMethod",
    "LocalRefund",
    "Order",
    "OrderLine",
    "PlusSubscription",
    "PpuConfig",
    "PpuLibraryEntry",
    "Publisher",
    "QuoteRequest",
    "RateLimitCounter",
    "Seat",
    "SubscriptionRenewal",
    "VolumeLot",
]
