"""Flask extensions shared by blueprints."""

from flask_wtf.csrf import CSRFProtect

# CSRF protection for every form POST. Views authenticated otherwise (the LTI login and launch,
# validated by the platform's signed JWT; JSON APIs taking a bearer token) are exempted with
# ``@csrf.exempt``. Forms render ``{{ csrf_token() }}`` in a hidden field named csrf_token.
csrf = CSRFProtect()
