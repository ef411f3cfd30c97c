"""The store: catalog, accounts, licenses and seats. Pure Python + SQLAlchemy, no Flask."""
