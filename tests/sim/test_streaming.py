"""Past STREAM_ABOVE runs, compare keeps summaries, not runs: the same numbers (quantiles within a bin)."""

from __future__ import annotations

import numpy as np
import pytest

import sim
import sim.experiments
from sim.executors import InlineExecutor
from sim.streaming import MetricStream

BIN = 10 ** ((16.0 + 9.0) / 9000) - 1  # relative width of one histogram bin


def test_streamed_summaries_equal_the_kept_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    kept = sim.compare("default", replications=192, executor=InlineExecutor())
    monkeypatch.setattr(sim.experiments, "STREAM_ABOVE", 10)
    streamed = sim.compare("default", replications=192, executor=InlineExecutor())
    assert streamed.streamed and not kept.streamed and len(streamed.runs) == 0
    for name, full in kept.summaries.items():
        other = streamed.summaries[name]
        assert (other.outcomes, other.caught_by, other.caught_late) == (full.outcomes, full.caught_by, full.caught_late)
        assert other.detection_rate == full.detection_rate
        for metric, exact in full.metrics.items():
            approx = other.metrics[metric]
            assert approx.n == exact.n
            if not exact.n:
                continue
            assert approx.mean == pytest.approx(exact.mean, rel=1e-12)
            if exact.ci95 is not None:
                assert approx.ci95 == pytest.approx(exact.ci95, rel=1e-9)
                assert approx.ci(0.9) == pytest.approx(exact.ci(0.9), rel=1e-9)
            for q in ("median", "p95"):
                assert getattr(approx, q) == pytest.approx(getattr(exact, q), rel=BIN, abs=1e-9)


def test_metric_stream_quantiles_are_within_one_bin() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate([np.zeros(50), rng.lognormal(5, 2, 5000)])
    stream = MetricStream()
    for chunk in np.array_split(values, 7):
        stream.add(chunk.tolist())
    assert stream.n == len(values) and stream.mean == pytest.approx(values.mean())
    assert stream.sd == pytest.approx(values.std(ddof=1))
    for q in (0.005, 0.5, 0.95, 0.99):
        assert stream.quantile(q) == pytest.approx(np.quantile(values, q), rel=BIN, abs=1e-12)


def test_a_large_sweep_item_streams_the_same_table(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    import sim.sweeps

    grid = ["strategies.canary.bake=5m,10m"]
    kept = sim.sweep("default", grid, replications=128, out=tmp_path / "kept").table
    monkeypatch.setattr(sim.sweeps, "STREAM_ABOVE", 10)
    streamed = sim.sweep("default", grid, replications=128, out=tmp_path / "streamed").table
    assert len(kept) == len(streamed)
    for column in ("mean", "n"):
        assert np.allclose(kept[column].astype(float), streamed[column].astype(float), rtol=1e-9, equal_nan=True)
    assert np.allclose(kept["median"].astype(float), streamed["median"].astype(float), rtol=BIN, equal_nan=True)
