"""The store's navigation bar, the one bar of every store page, the Dashboard and the pages of a
signed-in independent learner: links named **Store**, **Cart**, **Dashboard** and **Order
History** in a ``<nav aria-label="Store">`` (template ``storefront/nav.html``); the current
page's link has ``aria-current="page"``. ``create_app`` makes :func:`store_nav` a template
global, so the Dashboard (``/dashboard``) and the sign-in blueprint's pages show the same bar.

*Decision:* an independent learner's dashboard is **My courses** (the courses they bought, ready
to start), so their bar reads **Store**, **Cart**, **My courses** (in the Dashboard's place),
**Order History** and a **Sign out** button; the organization's Dashboard (``/dashboard``: an
LMS admin's overview of licenses and seats) is not in it.

Pages of other parts are linked by URL path (the cart, orders and sign-in pages may live in
other blueprints); every link keeps the session token, like ``url_for_s``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode

from flask import request, session

from lti_tool.lti.websession import TOKEN_ARG, DbSession, url_for_s

CART_PATH = "/store/cart"
ORDERS_PATH = "/store/orders"
MY_COURSES_PATH = "/store/my-courses"
DASHBOARD_PATH = "/dashboard"
SIGNOUT_PATH = "/store/signout"


@dataclass(frozen=True)
class NavLink:
    key: str
    label: str
    href: str
    current: bool


@dataclass(frozen=True)
class StoreNav:
    links: tuple[NavLink, ...]
    signout_action: str | None  # independent learners: the Sign out form's target


def path_s(path: str, **args: str) -> str:
    """A URL path of this app (``/store/cart``) that keeps the session token, with the query
    arguments ``args`` (if any) after it."""
    query = dict(args)
    if isinstance(session, DbSession) and (session.stored or session):
        query = {TOKEN_ARG: session.token, **query}
    return request.script_root + path + ("?" + urlencode(query) if query else "")


def store_nav(current: str | None = None, *, signout: bool = True) -> StoreNav:
    """The bar's links for this session; ``current`` names the page shown (``store``, ``cart``,
    ``dashboard``, ``orders``, ``my_courses``). ``signout=False`` leaves the Sign out button out
    (the sign-out page has its own)."""
    independent = session.get("login_id") is not None
    entries = [("store", "Store", url_for_s("storefront.catalog")), ("cart", "Cart", path_s(CART_PATH))]
    if independent:
        entries.append(("my_courses", "My courses", path_s(MY_COURSES_PATH)))
    else:
        entries.append(("dashboard", "Dashboard", path_s(DASHBOARD_PATH)))
    entries.append(("orders", "Order History", path_s(ORDERS_PATH)))
    links = tuple(NavLink(key, label, href, key == current) for key, label, href in entries)
    return StoreNav(links, request.script_root + SIGNOUT_PATH if independent and signout else None)


__all__ = ["CART_PATH", "DASHBOARD_PATH", "MY_COURSES_PATH", "ORDERS_PATH", "SIGNOUT_PATH", "NavLink", "StoreNav", "path_s", "store_nav"]
