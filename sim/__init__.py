"""E-commerce marketing strategy simulator: front-end (acquisition) vs back-end (retention) marketing.

`sim.load_scenario` reads a client scenario; `sim.run` simulates it with an engine; `sim.compute_kpis`
turns a result into the KPIs of a strategy report.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("ecommerce-strategy-sim")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+source"

from sim import lifeline as _lifeline  # noqa: E402

_lifeline.install()  # a process started by a `sim` command never outlives it (see sim/lifeline.py)
