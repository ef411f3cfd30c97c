"""The demo LMS (``/demo``): a development-only LTI 1.3 platform on the same server, for trying
the tool without an LMS. See ``views`` (pages and platform endpoints), ``platform`` (origins,
launches, checks of what the tool sends back), ``setup`` (its registration, demo courses and
seats) and ``keys`` (its signing key). ``create_app`` registers its blueprint only when the
``DEMO_PLATFORM`` setting is on (development by default), never in production."""
