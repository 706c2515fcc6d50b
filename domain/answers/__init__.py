"""What the CRM API answers, as typed shapes: the one description of each answer.

Each shape is a ``TypedDict``: the function that builds an answer (``Rep.to_json``,
``storage.email_changes.email_json``...) is declared to return it, so mypy checks that every key
is there with its type, at no cost when the API answers; ``api.openapi`` writes the
answer's schema from the same class (pydantic reads TypedDicts). A key marked
``NotRequired`` is left out in some answers; a ``| None`` key is always there and may be
null. A CRM may meet keys that are not described yet: new keys are added, never taken away.
"""

from __future__ import annotations

from domain.answers.errors import (
    Error as Error,
)
from domain.answers.errors import (
    ErrorDetail as ErrorDetail,
)
from domain.answers.errors import (
    FieldProblem as FieldProblem,
)
from domain.answers.explanations import (
    Decision as Decision,
)
from domain.answers.explanations import (
    Explanation as Explanation,
)
from domain.answers.explanations import (
    MailboxBackfillSummary as MailboxBackfillSummary,
)
from domain.answers.explanations import (
    MessageDecision as MessageDecision,
)
from domain.answers.explanations import (
    Notification as Notification,
)
from domain.answers.explanations import (
    NotificationPage as NotificationPage,
)
from domain.answers.explanations import (
    ParkedMessage as ParkedMessage,
)
from domain.answers.explanations import (
    SyncBearing as SyncBearing,
)
from domain.answers.feed import (
    Change as Change,
)
from domain.answers.feed import (
    ChangePage as ChangePage,
)
from domain.answers.feed import (
    Cursor as Cursor,
)
from domain.answers.feed import (
    Delivery as Delivery,
)
from domain.answers.feed import (
    DeliveryAttempt as DeliveryAttempt,
)
from domain.answers.feed import (
    DeliveryPage as DeliveryPage,
)
from domain.answers.feed import (
    Subscription as Subscription,
)
from domain.answers.feed import (
    SubscriptionList as SubscriptionList,
)
from domain.answers.mail import (
    Attachment as Attachment,
)
from domain.answers.mail import (
    Email as Email,
)
from domain.answers.mail import (
    EmailAddress as EmailAddress,
)
from domain.answers.mail import (
    EmailContact as EmailContact,
)
from domain.answers.mail import (
    EmailDelivery as EmailDelivery,
)
from domain.answers.mail import (
    EmailPage as EmailPage,
)
from domain.answers.orgs import (
    NylasApplication as NylasApplication,
)
from domain.answers.orgs import (
    Offboarding as Offboarding,
)
from domain.answers.orgs import (
    OffboardingPlan as OffboardingPlan,
)
from domain.answers.orgs import (
    Organization as Organization,
)
from domain.answers.orgs import (
    OrganizationPage as OrganizationPage,
)
from domain.answers.orgs import (
    OrgDefaults as OrgDefaults,
)
from domain.answers.orgs import (
    OrgToken as OrgToken,
)
from domain.answers.orgs import (
    OrgTokenList as OrgTokenList,
)
from domain.answers.orgs import (
    ProviderApp as ProviderApp,
)
from domain.answers.reps import (
    AccountStatus as AccountStatus,
)
from domain.answers.reps import (
    ActionItem as ActionItem,
)
from domain.answers.reps import (
    ActionItemCalendar as ActionItemCalendar,
)
from domain.answers.reps import (
    ActionItemPage as ActionItemPage,
)
from domain.answers.reps import (
    Activity as Activity,
)
from domain.answers.reps import (
    ActivityCounts as ActivityCounts,
)
from domain.answers.reps import (
    Backfill as Backfill,
)
from domain.answers.reps import (
    BackfillProgress as BackfillProgress,
)
from domain.answers.reps import (
    BackfillStatus as BackfillStatus,
)
from domain.answers.reps import (
    ConnectUrl as ConnectUrl,
)
from domain.answers.reps import (
    Contact as Contact,
)
from domain.answers.reps import (
    ContactPage as ContactPage,
)
from domain.answers.reps import (
    ContactsReplaced as ContactsReplaced,
)
from domain.answers.reps import (
    Disconnected as Disconnected,
)
from domain.answers.reps import (
    Rep as Rep,
)
from domain.answers.reps import (
    RepSettings as RepSettings,
)
from domain.answers.words import (
    ActionItemSide as ActionItemSide,
)
from domain.answers.words import (
    BackfillKindName as BackfillKindName,
)
from domain.answers.words import (
    BackfillStateName as BackfillStateName,
)
from domain.answers.words import (
    CalendarSyncStatus as CalendarSyncStatus,
)
from domain.answers.words import (
    ChangeOperation as ChangeOperation,
)
from domain.answers.words import (
    CursorText as CursorText,
)
from domain.answers.words import (
    DeliveryOutcome as DeliveryOutcome,
)
from domain.answers.words import (
    DeliveryStateName as DeliveryStateName,
)
from domain.answers.words import (
    EmailSource as EmailSource,
)
from domain.answers.words import (
    HeaderRoleName as HeaderRoleName,
)
from domain.answers.words import (
    NextCursor as NextCursor,
)
from domain.answers.words import (
    SubscriptionStatus as SubscriptionStatus,
)
from domain.answers.words import (
    Timestamp as Timestamp,
)
