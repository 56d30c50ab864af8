"""Shared fixtures: the sample scenarios, full size and scaled down for fast tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.model.scaling import scaled
from sim.model.scenario import Scenario, load_scenario

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "data" / "samples" / "scenarios"
SAMPLE_FILES = sorted(SAMPLES.glob("*.yaml"))


def sample(name: str) -> Scenario:
    """A sample scenario by file stem, e.g. 'early_stage_d2c'."""
    return load_scenario(SAMPLES / f"{name}.yaml")


def small(name: str, factor: float = 0.1, months: int = 12) -> Scenario:
    """A sample scaled down (same per-person dynamics) for fast tests."""
    return scaled(sample(name), factor, months)


@pytest.fixture(params=[p.stem for p in SAMPLE_FILES])
def sample_name(request) -> str:
    return request.param
