"""Errors raised by recengine.

Every error is a :class:`RecengineError` and also subclasses the builtin a caller would
naturally catch, so ``except ValueError`` keeps working::

    RecengineError
    ├── SchemaError(ValueError)            a schema breaks an Avro or service rule
    ├── ValidationError(ValueError)        rows of an import or events failed validation
    ├── InvalidInputError(ValueError)      an argument is out of range or malformed
    ├── NotFoundError(LookupError)         a named resource does not exist
    ├── AlreadyExistsError(ValueError)     a resource with that name exists already
    ├── InUseError(RuntimeError)           the resource is locked or still referenced
    ├── InvalidStateError(RuntimeError)    the object is not in a state that allows the call
    ├── InsufficientDataError(ValueError)  too little data to train, as the service requires
    └── ArtifactError(OSError)             an artifact is missing, truncated or altered
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AlreadyExistsError",
    "ArtifactError",
    "InUseError",
    "InsufficientDataError",
    "InvalidInputError",
    "InvalidStateError",
    "NotFoundError",
    "Problem",
    "RecengineError",
    "SchemaError",
    "ValidationError",
]

MAX_REPORTED_PROBLEMS = 20


class RecengineError(Exception):
    """Base class of every error recengine raises."""


@dataclass(frozen=True)
class Problem:
    """One failing value: where it is, what it was and what was expected."""

    file: str
    row: int
    column: str
    value: str
    expected: str

    def __str__(self) -> str:
        shown = self.value if len(self.value) <= 60 else self.value[:57] + "..."
        where = f"{self.file}, row {self.row}, column {self.column}"
        return f"{where}: got {shown!r}, expected {self.expected}"


class SchemaError(RecengineError, ValueError):
    """A schema is not valid Avro or breaks one of the service's rules.

    ``reasons`` lists every rule broken, each naming the field.
    """

    def __init__(self, reasons: list[str], source: str = "schema") -> None:
        self.reasons = list(reasons)
        self.source = source
        listed = "; ".join(self.reasons)
        super().__init__(f"{source} is not a valid schema: {listed}")


class ValidationError(RecengineError, ValueError):
    """Rows failed validation; nothing of the import was stored.

    ``problems`` holds at most :data:`MAX_REPORTED_PROBLEMS` problems and ``count`` the total;
    ``remedy`` is what the message tells the user to do.
    """

    def __init__(
        self,
        problems: list[Problem],
        count: int | None = None,
        source: str = "",
        remedy: str = "nothing was imported. Fix these rows and import again",
    ) -> None:
        self.problems = list(problems[:MAX_REPORTED_PROBLEMS])
        self.count = len(problems) if count is None else count
        self.source = source
        lines = "\n".join(f"  {problem}" for problem in self.problems)
        more = self.count - len(self.problems)
        tail = f"\n  ... and {more} more" if more > 0 else ""
        where = f" in {source}" if source else ""
        super().__init__(f"{self.count} invalid value(s){where}; {remedy}:\n{lines}{tail}")


class InvalidInputError(RecengineError, ValueError):
    """An argument is malformed or out of its allowed range."""


class NotFoundError(RecengineError, LookupError):
    """A named resource (dataset group, dataset, solution, version, campaign) does not exist."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class AlreadyExistsError(RecengineError, ValueError):
    """A resource with that name exists already."""


class InUseError(RecengineError, RuntimeError):
    """The resource is locked by another writer or still referenced."""


class InvalidStateError(RecengineError, RuntimeError):
    """The object is not in a state that allows the call."""


class InsufficientDataError(RecengineError, ValueError):
    """The selected interactions are below the service's minimum for training."""


class ArtifactError(RecengineError, OSError):
    """A solution version's artifact is missing, truncated or altered."""
