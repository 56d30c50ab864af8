"""Errors the user can act on: each names the file, the place in it, what was found and what is allowed.

The CLI turns any `UserInputError` into one line on stderr and exit code 2, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class UserInputError(Exception):
    """Bad input from the user (a scenario, a CSV, a flag), with structured fields for tools."""

    message: str
    file: str | None = None
    location: str | None = None
    found: str | None = None
    allowed: str | None = None

    def __str__(self) -> str:
        parts = []
        if self.file:
            parts.append(f"{self.file}")
        if self.location:
            parts.append(f"{self.location}")
        head = ": ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        if self.found is not None:
            text += f" (found: {self.found})"
        if self.allowed:
            text += f"; allowed: {self.allowed}"
        return text


class ScenarioError(UserInputError):
    """A scenario file that cannot be used."""


class DataError(UserInputError):
    """A client export (order log, spend log) that cannot be read."""
