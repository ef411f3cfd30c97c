"""Independent learners on the tool's own site: sign-up, sign-in, sign-out, password reset, and
their "My courses" page (blueprint ``signin``, pages under ``/store``)."""
