"""The admin dashboard (DOMAIN.md "Dashboard" and "Delivering"): the summary and chart, the tabs
**Plus**, **Purchased Courses**, **PPU Library**, **Order History**, **Needs Attention** and
**Reports**, the account's settings, and delivering courses. Reads come from ``store.dashboard``,
``store.reports``, ``store.invitations``; this package only parses, calls and renders."""
