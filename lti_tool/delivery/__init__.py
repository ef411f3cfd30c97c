"""Delivering courses (DOMAIN.md "Delivering", issue 9): blueprint ``delivery``.

- ``GET /dashboard/deliver?course=A[&course=B…][&license_type=T]``: the chosen courses; asks
  **License** for each course the account holds several license types for, then offers the three
  methods as links to sub-pages: **LTI link**, **Download Packages**, **Invitations**.
- ``GET /dashboard/deliver/lti``: how to add the course with deep linking, and the launch URL and
  custom parameters for LMSs without it (read-only fields with **Copy** buttons).
- ``GET|POST /dashboard/deliver/download``: **SCORM 1.2** / **SCORM 2004** (preselected with the
  account's remembered format), **Download**: one labeled zip, or a zip of zips streamed one
  package at a time; the format is remembered.
- ``GET|POST /dashboard/deliver/invitations``: **Email addresses**, **Send Invitations**, the result
  per address, the account's invitations and, with the outbox mail backend, its **Mail outbox**.
- ``GET /invite/<token>``: an invitation's link: the course player outside any LMS.

Views parse, call ``service`` (reads), ``scorm_packages.service`` and ``store.invitations``, and
render templates under ``templates/delivery/``.
"""
