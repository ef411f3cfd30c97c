"""Catalog rows for tests, written straight through the models."""

from __future__ import annotations

import itertools

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.catalog.models import Bundle, Course, Publisher

_seq = itertools.count(1)


def make_publisher(session: Session, name: str = "Factory Publishing") -> Publisher:
    found = session.scalars(select(Publisher).where(Publisher.name == name)).first()
    if found:
        return found
    publisher = Publisher(name=name)
    session.add(publisher)
    session.flush()
    return publisher


def make_bundle(session: Session, name: str = "TED@Work", subscription_only: bool = True) -> Bundle:
    found = session.scalars(select(Bundle).where(Bundle.name == name)).first()
    if found:
        return found
    bundle = Bundle(name=name, is_subscription_only=subscription_only)
    session.add(bundle)
    session.flush()
    return bundle


def make_course(
    session: Session,
    catalog_id: str | None = None,
    *,
    title: str | None = None,
    is_plus: bool = True,
    bundle: Bundle | None = None,
    status: str = "active",
    volume_price_cents: int = 5_000,
    ppu_price_cents: int = 7_500,
    publisher: str = "Factory Publishing",
) -> Course:
    n = next(_seq)
    catalog_id = catalog_id or f"C-{n:05d}"
    course = Course(
        catalog_id=catalog_id,
        title=title or f"Course {catalog_id}",
        publisher_id=make_publisher(session, publisher).id,
        description="",
        language="en",
        duration_minutes=30,
        topics=[],
        volume_price_cents=volume_price_cents,
        ppu_price_cents=ppu_price_cents,
        is_plus=is_plus,
        bundle_id=bundle.id if bundle else None,
        status=status,
    )
    session.add(course)
    session.flush()
    return course
