"""The store pages (blueprint ``storefront``): catalog, course pages, the Plus subscription, the
Pay Per Use library, the navigation bar, and who is buying (``access.py``)."""
