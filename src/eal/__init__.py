"""eal: the orchestration layer between lead, call, job and follow-up for restoration franchises."""

__version__ = "0.1.0"
