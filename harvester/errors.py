"""Exceptions that map to the exit codes of the command-line contract.

Commands raise these instead of calling sys.exit so that library use stays possible and
the CLI's single error handler decides how a failure is reported (never as a traceback).
Configuration and usage errors (exit 2) use click's UsageError/BadParameter.
"""

from __future__ import annotations


class HarvestError(Exception):
    """The run failed (exit 1): a service failed after retries, or records were not delivered."""

    exit_code = 1


class ServiceError(HarvestError):
    """A remote service answered with an error or not at all, after retries."""

    def __init__(self, service: str, message: str):
        super().__init__(f"{service}: {message}")
        self.service = service


class AuthenticationError(ServiceError):
    """Credentials were refused (or a login page came back where data was expected)."""


class DeliveryError(HarvestError):
    """Some records could not be delivered; `failed` lists (record id, reason)."""

    def __init__(self, sink: str, failed: list[tuple[str, str]]):
        shown = "; ".join(f"{rid}: {reason}" for rid, reason in failed[:5])
        more = f" (and {len(failed) - 5} more)" if len(failed) > 5 else ""
        super().__init__(f"{sink}: {len(failed)} record(s) not delivered: {shown}{more}")
        self.sink = sink
        self.failed = failed


class SkippedRun(HarvestError):
    """The run was skipped on purpose (exit 3): lock held elsewhere, or span check refused."""

    exit_code = 3
