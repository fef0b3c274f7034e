"""Exceptions that map to the exit codes of the command-line contract.

Commands raise these instead of calling sys.exit so that library use stays possible and
the CLI's single error handler decides how a failure is reported (never as a traceback).
Library code raises ConfigError for usage and configuration errors (exit 2); the CLI shows
it the way click shows its own usage errors, naming the option or variable in `hint`.
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


class ConfigError(HarvestError):
    """A usage or configuration error (exit 2): the operator must change something first.

    `hint` names the option and/or environment variable concerned, e.g.
    "'--since'" or "'-o' / '--output' (environment variable ES_HOST)".
    """

    exit_code = 2

    def __init__(self, message: str, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint

    def format_message(self) -> str:
        """The text click would show for it: "Invalid value for '--x': ..." when a hint is given."""
        return f"Invalid value for {self.hint}: {self.message}" if self.hint else self.message


class CorruptCheckpoint(ConfigError):
    """A stored checkpoint cannot be read (exit 2, for every command).

    Retrying cannot help and guessing could skip or repeat data, so the run stops before any
    request and says where the checkpoint is and what to do.
    """

    def __init__(self, where: str, value: str, problem: str, remedy: str):
        super().__init__(f"the checkpoint {where} holds {value[:40]!r}, which {problem}; "
                         f"fix or delete it, or {remedy}")
        self.where = where


class SkippedRun(HarvestError):
    """The run was skipped on purpose (exit 3): lock held elsewhere, or span check refused."""

    exit_code = 3
