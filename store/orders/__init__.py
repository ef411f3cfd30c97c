"""The store's orders: carts, checkout, orders, quotes, renewals (see :mod:`store.orders.service`)."""
