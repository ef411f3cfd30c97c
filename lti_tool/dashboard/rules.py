"""Pure rules of the dashboard pages: what a Needs Attention row tells the admin to do and where
its link goes (a target the view turns into a URL), and the words for a lot's seats. No Flask,
no SQLAlchemy.

Targets: ``store_buy`` (the store's course page with its buy part open), ``store_course``,
``store_plus`` (the Plus page: renew, update the card), ``deliver`` (Deliver Course of a course),
``tab_ppu`` / ``tab_purchased`` (a dashboard tab), or None (the sentence is the whole advice).
"""

from __future__ import annotations

from dataclasses import dataclass

from store.dashboard import rules as dash


@dataclass(frozen=True)
class Todo:
    text: str  # the link's (or the sentence's) words
    target: str | None
    catalog_id: str | None = None
    license_type: str | None = None


def _renew(license_type: str | None, catalog_id: str | None) -> Todo:
    if license_type == "volume" and catalog_id:
        return Todo("Buy seats to renew", "store_buy", catalog_id)
    return Todo("Renew the Plus subscription", "store_plus")


def _deliver_replacement(replacement: str | None, catalog_id: str | None) -> Todo:
    if replacement:
        return Todo("Deliver the replacement", "deliver", replacement)
    if catalog_id:
        return Todo("Find a replacement in the store", "store_course", catalog_id)
    return Todo("Contact vendor support for a replacement", None)


_COURSE_TODOS = {
    dash.BUY_SEATS: ("Buy seats", "store_buy"),
    dash.ADD_TO_LIBRARY: ("Add the course to the library", "store_course"),
    dash.BUY_LICENSE: ("Buy a license for this course", "store_course"),
    dash.DELIVER_WITH_PLUS: ("Deliver it with the Plus subscription", "deliver"),
    dash.ALLOW_DOMAIN: ("Deliver a package for this LMS", "deliver"),
    dash.DELIVER_PACKAGE: ("Deliver a new package", "deliver"),
}
_PLAIN_TODOS = {
    dash.TOP_UP_DEPOSIT: Todo("Ask vendor support to top up the deposit", "tab_ppu"),
    dash.WAIT_FOR_START: Todo("Check when the license starts", "tab_purchased"),
    dash.UPDATE_CARD: Todo("Update the card on the Plus page", "store_plus"),
    dash.CHECK_LINK: Todo("Check the course link's id in your LMS", None),
    dash.CHECK_LMS_SETTINGS: Todo("Check that your LMS opens packages from its own site", None),
    dash.CONTACT_SUPPORT: Todo("Contact vendor support", None),
}


def todo(action: str, *, catalog_id: str | None = None, license_type: str | None = None,
         replacement_catalog_id: str | None = None) -> Todo:
    """What to do about a Needs Attention item with this ``action`` (store.dashboard.rules)."""
    if action == dash.RENEW:
        return _renew(license_type, catalog_id)
    if action == dash.DELIVER_REPLACEMENT:
        return _deliver_replacement(replacement_catalog_id, catalog_id)
    if action in _COURSE_TODOS and catalog_id:
        text, target = _COURSE_TODOS[action]
        kind = "plus" if action == dash.DELIVER_WITH_PLUS else license_type
        return Todo(text, target, catalog_id, kind if target == "deliver" else None)
    return _PLAIN_TODOS.get(action, _PLAIN_TODOS[dash.CONTACT_SUPPORT])


def seats_left_text(seats_left: int, seats: int, *, expired: bool = False) -> str:
    """The one measure of the dashboard: "N of M seats left" (an expired lot has none usable)."""
    left = 0 if expired else max(seats_left, 0)
    return f"{left} of {seats} seat{'' if seats == 1 else 's'} left"


__all__ = ["Todo", "seats_left_text", "todo"]
