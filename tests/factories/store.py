"""Store page helpers for tests: web sessions as an LTI launch or an independent learner's sign-in
leave them (written straight into ``web_sessions``), and a small reader of the rendered HTML
(lxml) that finds controls by their accessible names."""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import URLSafeTimedSerializer
from lxml import html as lxml_html
from sqlalchemy.orm import Session, sessionmaker
from werkzeug.test import TestResponse

from lti_tool.lti.models import WebSession
from lti_tool.lti.websession import token_hash
from store.accounts.models import Learner
from store.base import utcnow


def make_learner(sessions: sessionmaker[Session], account_id: int, external_id: str = "admin-1") -> int:
    with sessions.begin() as session:
        learner = Learner(account_id=account_id, identity_source="lti:https://lms.example.edu",
                          external_id=external_id, name=external_id, created_at=utcnow(), updated_at=utcnow())
        session.add(learner)
        session.flush()
        return learner.id


def web_session(sessions: sessionmaker[Session], **data: Any) -> str:
    """A stored web session holding ``data`` (plus a raw CSRF token); returns its token."""
    token = secrets.token_urlsafe(32)
    data.setdefault("csrf_token", hashlib.sha1(os.urandom(64)).hexdigest())
    now = utcnow()
    with sessions.begin() as session:
        session.add(WebSession(id=token_hash(token), data=data, created_at=now, expires_at=now + timedelta(hours=1)))
    return token


def csrf_for(app: Flask, sessions: sessionmaker[Session], token: str) -> str:
    """The signed CSRF form value for the session ``token`` (as ``csrf_token()`` renders it)."""
    from sqlalchemy import select

    with sessions() as session:
        data = session.scalars(select(WebSession.data).where(WebSession.id == token_hash(token))).one()
    return URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token").dumps(data["csrf_token"])


@dataclass
class Buyer:
    """A signed-in buyer for a test client: ``get``/``post`` carry the session token."""

    app: Flask
    client: FlaskClient
    sessions: sessionmaker[Session]
    account_id: int
    token: str
    headers: dict[str, str] = field(default_factory=dict)

    def get(self, path: str, **args: Any) -> TestResponse:
        return self.client.get(path, query_string={**args, "s": self.token}, headers=self.headers)

    def page(self, path: str, status: int = 200, **args: Any) -> Page:
        response = self.get(path, **args)
        assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:2000])
        return Page(response)

    def post(self, path: str, data: dict[str, Any] | list[tuple[str, str]], *, csrf: bool = True) -> TestResponse:
        fields = list(data.items()) if isinstance(data, dict) else list(data)
        fields.append(("s", self.token))
        if csrf:
            fields.append(("csrf_token", csrf_for(self.app, self.sessions, self.token)))
        return self.client.post(path, data=_multidict(fields), headers=self.headers)

    def submit(self, form: Any, button: str | None = None, **changes: str) -> TestResponse:
        """Submit a form of a page as a browser would: its fields, ``changes``, and the button
        named ``button`` (its name/value and its ``formaction``)."""
        page_form = Form(form)
        fields = [(k, v) for k, v in page_form.fields() if k not in changes]
        fields += list(changes.items())
        action = page_form.action
        method = page_form.method
        if button is not None:
            element = page_form.button(button)
            if element.get("name"):
                fields.append((element.get("name"), element.get("value", "")))
            action = element.get("formaction") or action
            method = (element.get("formmethod") or method).lower()
        parts = urlsplit(action)
        path = parts.path
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if method == "get":
            query.update(dict(fields))
            return self.client.get(path, query_string=query, headers=self.headers)
        return self.client.post(path, query_string=query, data=_multidict(fields), headers=self.headers)


def _multidict(fields: list[tuple[str, Any]]) -> Any:
    from werkzeug.datastructures import MultiDict

    return MultiDict(fields)


def _text(element: Any) -> str:
    return " ".join(element.text_content().split())


class Form:
    def __init__(self, element: Any) -> None:
        self.element = element

    @property
    def action(self) -> str:
        return str(self.element.get("action") or "")

    @property
    def method(self) -> str:
        return str(self.element.get("method") or "get").lower()

    def fields(self) -> list[tuple[str, str]]:
        out = []
        for element in self.element.xpath(".//input|.//select|.//textarea"):
            name = element.get("name")
            if not name:
                continue
            if element.tag == "select":
                chosen = element.xpath(".//option[@selected]") or element.xpath(".//option")
                if chosen:
                    out.append((name, chosen[0].get("value", _text(chosen[0]))))
            elif element.get("type") in ("checkbox", "radio"):
                if element.get("checked") is not None:
                    out.append((name, element.get("value", "on")))
            elif element.tag == "textarea":
                out.append((name, element.text or ""))
            elif element.get("type") not in ("submit", "button"):
                out.append((name, element.get("value", "")))
        return out

    def button(self, name: str) -> Any:
        found = [b for b in self.element.xpath(".//button") if _text(b) == name]
        assert len(found) == 1, f"no single button named {name!r} in the form"
        return found[0]


class Page:
    """A rendered page, read with lxml."""

    def __init__(self, response: TestResponse) -> None:
        self.response = response
        self.status = response.status_code
        self.html = response.get_data(as_text=True)
        self.doc = lxml_html.fromstring(self.html)

    @property
    def text(self) -> str:
        return _text(self.doc.xpath("//body")[0])

    @property
    def h1(self) -> str:
        return _text(self.doc.xpath("//h1")[0])

    def links(self, name: str) -> list[str]:
        """The hrefs of the links whose accessible name (text) is ``name``."""
        return [str(a.get("href")) for a in self.doc.xpath("//a") if _text(a) == name]

    def link(self, name: str) -> str:
        found = self.links(name)
        assert len(found) == 1, f"{len(found)} links named {name!r}"
        return found[0]

    def buttons(self, name: str) -> list[Any]:
        return [b for b in self.doc.xpath("//button") if _text(b) == name]

    def button(self, name: str) -> Any:
        found = self.buttons(name)
        assert len(found) == 1, f"{len(found)} buttons named {name!r}"
        return found[0]

    def form_of(self, element: Any) -> Any:
        forms = element.xpath("ancestor::form")
        assert forms, "not inside a form"
        return forms[-1]

    def label_text(self, element: Any) -> str:
        if element.get("aria-label"):
            return str(element.get("aria-label"))
        element_id = element.get("id")
        labels = self.doc.xpath(f'//label[@for="{element_id}"]') if element_id else []
        if labels:
            return _text(labels[0])
        wrapping = element.xpath("ancestor::label")
        return _text(wrapping[0]) if wrapping else ""

    def field(self, label: str) -> Any:
        """The input/select whose accessible name is ``label`` (its <label> or aria-label)."""
        found = [e for e in self.doc.xpath("//input|//select|//textarea") if self.label_text(e) == label]
        assert len(found) == 1, f"{len(found)} fields named {label!r}"
        return found[0]

    def described_by(self, element: Any) -> str:
        """The text of the elements ``aria-describedby`` names."""
        ids = (element.get("aria-describedby") or "").split()
        return " ".join(_text(self.doc.get_element_by_id(i)) for i in ids)

    def by_id(self, element_id: str) -> Any:
        return self.doc.get_element_by_id(element_id)

    def nav(self) -> Any:
        found = self.doc.xpath('//nav[@aria-label="Store"]')
        assert len(found) == 1, "no single Store navigation bar"
        return found[0]

    def nav_names(self) -> list[str]:
        nav = self.nav()
        return [_text(e) for e in nav.xpath(".//a|.//button")]

    def nav_link(self, name: str) -> str:
        found = [str(a.get("href")) for a in self.nav().xpath(".//a") if _text(a) == name]
        assert len(found) == 1, f"{len(found)} bar links named {name!r}"
        return found[0]

    def current_nav(self) -> list[str]:
        return [_text(a) for a in self.nav().xpath('.//a[@aria-current="page"]')]


def query_of(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def make_buyer(app: Flask, sessions: sessionmaker[Session], account_id: int, *, is_admin: bool = True,
               login_id: int | None = None, external_id: str = "admin-1", **extra: Any) -> Buyer:
    """A web session as an LTI launch (``is_admin`` from the roles) or, with ``login_id``, an
    independent learner's sign-in leaves it, and a client that carries it."""
    learner_id = make_learner(sessions, account_id, external_id)
    data: dict[str, Any] = {"account_id": account_id, "learner_id": learner_id, "is_admin": is_admin, **extra}
    if login_id is not None:
        data["login_id"] = login_id
    return Buyer(app, app.test_client(), sessions, account_id, web_session(sessions, **data))
