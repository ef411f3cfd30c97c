"""Background jobs: the ``jobs`` table, claims that let any number of workers share the work
without running a job twice, and the worker loop; the schedule rules are in ``rules.py``."""

from store.jobs.rules import Schedule
from store.jobs.service import (
    JobDefinition,
    JobFailed,
    JobStatus,
    RunResult,
    ensure_jobs,
    job_statuses,
    run_due,
    run_job,
)

__all__ = ["JobDefinition", "JobFailed", "JobStatus", "RunResult", "Schedule", "ensure_jobs", "job_statuses",
           "run_due", "run_job"]
