"""The benchmark's own arithmetic: what it reports must be what it measured."""

import pytest

from bench.load import percentile

pytestmark = pytest.mark.unit


def test_a_percentile_is_one_of_the_samples_never_beyond_the_slowest() -> None:
    # Sixteen completion-to-display times, as the benchmark takes them: the p95 once read
    # 3.70 s here, past the slowest sample (3.6 s), from an extrapolating quantile method.
    latencies = [1.0] * 14 + [2.9, 3.6]
    assert percentile(latencies, 95) == 3.6
    assert percentile(latencies, 50) == 1.0
    assert percentile(list(range(100)), 95) == 95
    assert percentile([0.4], 95) == 0.4
