"""The contract of issue 13, differentially: every design ``validate`` accepts compiles, runs forward and backward,
takes a step, saves and reloads, and exports (see tests/contract.py). ``make fuzz`` runs many more designs and every
export format (``CONTRACT_EXAMPLES``, ``CONTRACT_FORMATS``)."""

from __future__ import annotations

import collections
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .contract import check, corpus, random_design

EXAMPLES = int(os.environ.get("CONTRACT_EXAMPLES", "1000"))
FORMATS = tuple(os.environ.get("CONTRACT_FORMATS", "python").split(","))
#: In CI every accepted design compiles, steps and reloads, but only every Nth is exported (the export is most of
#: the cost); ``make fuzz`` exports each one.
EXPORT_EVERY = int(os.environ.get("CONTRACT_EXPORT_EVERY", "10"))
SEEN: collections.Counter[str] = collections.Counter()


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(st.randoms(use_true_random=False))
def test_random_small_designs_keep_the_contract(rng):
    SEEN["drawn"] += 1
    SEEN[check(random_design(rng), FORMATS if SEEN["drawn"] % EXPORT_EVERY == 0 else ())] += 1


@pytest.mark.slow
def test_template_pieces_and_their_mutations_keep_the_contract():
    outcomes = collections.Counter(check(design, FORMATS) for design in corpus())
    # the corpus is a real test only if both sides are well represented
    assert outcomes["accepted"] > 60 and outcomes["rejected"] > 60, outcomes


def test_the_fuzz_meets_designs_the_validator_accepts():
    """Guard against a generator that only ever produces rejected designs (the contract would then hold vacuously)."""
    import random

    rng = random.Random(0)
    outcomes = collections.Counter(check(random_design(rng), ()) for _ in range(40))
    assert outcomes["accepted"] >= 5 and outcomes["rejected"] >= 5, outcomes
