"""Identity linking: one person across delivery methods (account setting ``link_identities``).

A learner is identified per delivery method (``learners``: identity source + external id). With
linking on, the seat engine asks :func:`resolve_person` for the learner's **person** before it
looks for a seat to reuse, and looks at the seats of every identity of that person.

How a person is found, race-safe (no read-check-write):

- each identity has keys (``store.accounts.identities.link_keys``: its email and its LMS
  username, or the LMS learner id a SCORM package reports);
- a learner linked for the first time inserts its keys into ``person_keys`` (unique per account,
  kind and value; ``INSERT … ON CONFLICT DO NOTHING`` in sorted order), pointing at itself, then
  reads whom each key belongs to. A key some other person already holds makes the learner join
  that person (its freshly inserted keys follow); otherwise it is a new person. Two first
  launches of one person at once insert the same key: PostgreSQL makes the second wait for the
  first's commit and then see its row; SQLite runs one writer at a time;
- a learner's person, once set, never changes (no merging of two people who turn out to share
  a key later: the key stays with the person who had it first); new keys it brings are added;
- seats taken with linking on carry the person (``seats.person_id``) and a unique index gives
  one seat per person, scope and attempt: two identities of one person that both found no seat
  collide there, and the loser's retry reuses the winner's seat.

With linking off every learner is a person of its own; links already made stay recorded (the
reports keep showing the identities together only while linking is on).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from store.accounts import identities
from store.accounts.models import Learner, PersonKey
from store.accounts.queries import get_account
from store.accounts.service import LearnerIdentity
from store.database import upsert_insert


def resolve_person(session: Session, account_id: int, learner_id: int, identity: LearnerIdentity,
                   now: datetime) -> int:
    """The person (a learner id) of this learner, linking it on its first linked launch; in the
    caller's transaction (the seat claim's)."""
    keys = identities.link_keys(identity.source, identity.external_id, identity.email, identity.username)
    person = session.scalar(select(Learner.person_id).where(Learner.id == learner_id))
    insert = upsert_insert(session)

    def add_key(kind: str, value: str, person_id: int) -> int:
        session.execute(insert(PersonKey).values(account_id=account_id, kind=kind, value=value, person_id=person_id,
                                                 created_at=now)
                        .on_conflict_do_nothing(index_elements=["account_id", "kind", "value"]))
        holder = session.scalar(select(PersonKey.person_id).where(
            PersonKey.account_id == account_id, PersonKey.kind == kind, PersonKey.value == value))
        return person_id if holder is None else int(holder)

    if person is not None:  # linked before: its person stays; keys it brings now are added
        for kind, value in keys:
            add_key(kind, value, person)
        return int(person)
    if not keys:  # nothing could ever match it: a person of its own, not linked
        return learner_id
    holders = [add_key(kind, value, learner_id) for kind, value in keys]
    target = next((h for h in holders if h != learner_id), learner_id)
    if target != learner_id:  # another person holds one of the keys: join them, with the keys just added
        session.execute(update(PersonKey).where(PersonKey.account_id == account_id, PersonKey.person_id == learner_id)
                        .values(person_id=target))
    session.execute(update(Learner).where(Learner.id == learner_id).values(person_id=target))
    return target


def person_learner_ids(person_id: int, learner_id: int) -> Select[tuple[int]]:
    """The learners of a person (a subquery), and the learner itself."""
    return select(Learner.id).where(or_(Learner.person_id == person_id, Learner.id == learner_id))


def same_person(session: Session, learner_a: int, learner_b: int) -> bool:
    """Whether two learners are identities of one linked person (same account)."""
    if learner_a == learner_b:
        return True
    rows = session.execute(select(Learner.account_id, Learner.person_id)
                           .where(Learner.id.in_((learner_a, learner_b)))).all()
    if len(rows) != 2:
        return False
    (account_a, person_a), (account_b, person_b) = rows
    return account_a == account_b and person_a is not None and person_a == person_b


def is_identity_linking(read_sessions: sessionmaker[Session], account_id: int) -> bool:
    """Whether the account treats the same person as one learner across delivery methods.
    Raises NotFound (``unknown_account``)."""
    with read_sessions() as session:
        return bool(get_account(session, account_id).link_identities)


def set_identity_linking(sessions: sessionmaker[Session], account_ref: str | int, enabled: bool) -> bool:
    """Switch "Treat the same person as one learner across delivery methods" for an account
    (staff, or the account's admins on the dashboard). See ``identities.LINKING_HELP``."""
    with sessions.begin() as session:
        account = get_account(session, account_ref)
        account.link_identities = bool(enabled)
        return account.link_identities
