"""Every error the package raises on purpose, under one root (`SimError`), each with structured fields.

`UserInputError` (and its kinds) is bad input the user can act on: it names the file, the place in it,
what was found and what is allowed; the CLI turns it into one line on stderr and exit code 2, never a
traceback. `ReportError` is a report notebook that failed or timed out (exit code 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


def plain_number(value: float, digits: int = 6) -> str:
    """A number as people read it in a message: never in scientific notation, thousands grouped.

    24000000.0 -> '24,000,000'; 42320.4 -> '42,320.4'; 0.000012 -> '0.000012'; `digits` significant
    digits at most (whole numbers keep all of theirs).
    """
    x = float(value)
    if not math.isfinite(x):
        return str(x)
    if x == int(x):
        return f"{int(x):,}"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(x))))
    text = f"{x:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


class SimError(Exception):
    """The root of the package's own errors (catch this to catch them all)."""


@dataclass
class UserInputError(SimError):
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


class ReportError(SimError, RuntimeError):
    """The report notebook failed or timed out; names the scenario and the failing step."""

    def __init__(self, message: str, *, scenario: str | None = None, step: str | None = None):
        super().__init__(message)
        self.message = message
        self.scenario = scenario
        self.step = step

    def __str__(self) -> str:
        where = ": ".join(x for x in (self.scenario, self.step) if x)
        return f"{where}: {self.message}" if where else self.message
