"""The launch benchmark's baseline: the smallest LTI 1.3 tool a developer would write with Flask and
pylti1p3 alone (login, launch, JWKS; no database, no seats), served by gunicorn like the product.

What it does per launch is what the library does out of the box: the OIDC login keeps the state
in a cookie and the nonce in Flask's signed session cookie, the launch validates the id_token
(fetching the platform's JWKS over HTTP, as pylti1p3 does without a cache) and answers a small
page. Configured from the environment by ``bench/bench_launch.py``:

    BASELINE_ISSUER, BASELINE_CLIENT_ID, BASELINE_DEPLOYMENT_ID, BASELINE_AUTH_LOGIN_URL,
    BASELINE_KEY_SET_URL, BASELINE_TOOL_KEY_FILE (PEM, PKCS8), BASELINE_SECRET_KEY

Run: ``gunicorn -w 2 bench.baseline_tool:app``. Not part of the product.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from flask import Flask, jsonify, request
from pylti1p3.contrib.flask import FlaskMessageLaunch, FlaskOIDCLogin, FlaskRequest
from pylti1p3.tool_config import ToolConfDict


def _tool_config() -> ToolConfDict:
    issuer = os.environ["BASELINE_ISSUER"]
    client_id = os.environ["BASELINE_CLIENT_ID"]
    private_pem = Path(os.environ["BASELINE_TOOL_KEY_FILE"]).read_text()
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM,
                                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    conf = ToolConfDict({issuer: [{
        "default": True,
        "client_id": client_id,
        "auth_login_url": os.environ["BASELINE_AUTH_LOGIN_URL"],
        "auth_token_url": os.environ["BASELINE_AUTH_LOGIN_URL"].rsplit("/", 1)[0] + "/token",
        "key_set_url": os.environ["BASELINE_KEY_SET_URL"],
        "key_set": None,
        "deployment_ids": [os.environ["BASELINE_DEPLOYMENT_ID"]],
    }]})
    conf.set_private_key(issuer, private_pem, client_id=client_id)
    conf.set_public_key(issuer, public_pem, client_id=client_id)
    return conf


def create_baseline() -> Flask:
    application = Flask(__name__)
    application.secret_key = os.environ["BASELINE_SECRET_KEY"]
    tool_conf = _tool_config()

    @application.route("/login", methods=["GET", "POST"])
    def login():  # type: ignore[no-untyped-def]
        target = request.values.get("target_link_uri", "")
        return FlaskOIDCLogin(FlaskRequest(), tool_conf).redirect(target)

    @application.post("/launch")
    def launch():  # type: ignore[no-untyped-def]
        data = FlaskMessageLaunch(FlaskRequest(), tool_conf).get_launch_data()
        custom = data.get("https://purl.imsglobal.org/spec/lti/claim/custom", {})
        return f"<!doctype html><title>Launched</title><h1>Hello {data.get('sub')}</h1><p>{custom}</p>"

    @application.get("/jwks")
    def jwks():  # type: ignore[no-untyped-def]
        return jsonify(tool_conf.get_jwks())

    return application


app = create_baseline() if "BASELINE_ISSUER" in os.environ else None
