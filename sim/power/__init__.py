"""How long must a canary bake? Detection and false-rollback rates of a judge as a function of bake time.

For each bake time, a canary at ``weight`` holds for the bake and is then
promoted; its judge is the only detector (watchers off). Simulated on a
release with an error defect of probability ``harm`` (detection: the share
of runs rolled back by the end of the bake) and on the healthy release
(false rollbacks), with the same seed. The canary is the built-in one with
``unit = "request"``, and with a baseline arm of the same weight when the
judge compares against one (``against = "baseline"``) or the strategy had one.
A run with the longest bake is the run with any shorter bake until that
bake ends (a failed verdict rolls back at once), so one run per release
answers every bake: a row's rate is the share of runs rolled back by its
bake, and the rates never fall as the bake grows.

Beside them, the closed form where one exists, for every measurement the
judge takes by the end of the longest bake; a bake counts the measurements
that arrive by its end. Common to all:

- measurements are scheduled as the engine schedules them: a scrape every
  ``scrape_interval``, arriving ``scrape_lag`` later; the judge measures at
  the first arrival after its interval has come round, over its window;
- traffic is Poisson around the scenario's expected counts (daily curve and
  spikes included); an arm's requests in a window are its share of them
  (a sequential judge's look needs ``min_requests`` in both arms: compared
  with the expected counts);
- a request of the new version errs with probability ``p1 = b + harm - b harm``
  (``b`` the baseline error rate; ``p1 = b`` when healthy), one of the
  reference arm (baseline or stable) with ``p0 = b``;
- every scrape arrives (``missing_scrapes`` and ``gaps`` are ignored).

The normal approximations (``ztest``, ``msprt``, ``cusum``) want tens of
errors per arm in a look; with a handful they are a few points off (0.92
simulated against 0.88 for a z-test with 3 errors expected per arm at its
first look). Where the approximation is good, simulation and closed form
agree within the Monte Carlo error (tests/sim/test_power.py).

- ``threshold`` (Argo or Flagger rule, errors only, no ``inconclusive_limit``,
  windows no longer than the interval, so measurements are independent):
  measurement j fails with probability ``q_j = P(Binomial(N_j, p1) > r N_j)``
  with ``N_j`` Poisson (plus, for Flagger, no data: ``N_j < min_requests``);
  the judge fails when more than ``failure_limit`` (Flagger: at least
  ``threshold``) of the measurements fail: a Poisson-binomial tail.
- ``ztest`` (any boundary): the difference of the cumulative error rates at
  look k is about normal with mean ``d = p1 - p0`` and variance
  ``v_k = p1 q1 / n_k + p0 q0 / m_k``; on the information scale
  ``I_k = 1 / v_k`` its multiple ``I_k`` is a Brownian motion with drift
  ``d`` (independent increments), and the judge fails at look k when the
  difference exceeds ``b_k`` pooled standard errors. The probability of
  crossing at one of the looks is the recursive numerical integration of
  ``strategies.sequential.crossing_probability``, here with drift and unequal
  increments. Healthy (``d = 0``, pooled = unpooled), it is the nominal
  crossing probability of the looks taken: ``alpha`` for corrected
  boundaries after all the planned looks, growing with the looks for
  uncorrected ones.
- ``msprt``: its rule "mixture likelihood ratio >= 1 / alpha with d > 0" is,
  with the variance at its expected value, a z boundary at each look
  ``c_k = sqrt(2 (V_k + tau^2) / tau^2 (log(1 / alpha) + log((V_k + tau^2) / V_k) / 2))``,
  crossed as for the z-test. Whatever that approximation, false rollbacks
  stay at most ``alpha`` at any bake (always valid: Ville's inequality).
- ``sprt``: the log-likelihood ratio after x errors and y successes is
  ``a x - c y`` (``a = log(p1' / p0')``, ``c = log((1 - p0') / (1 - p1'))``
  for the judge's ``p0'``, ``p1'``). With Poisson traffic the errors and the
  successes of each window are independent Poisson counts, so the ratio is a
  random walk with independent increments: its distribution between the
  two boundaries is carried from look to look on a grid (the successes,
  thousands a window, taken as normal), absorbed at either boundary and
  stopped at the bake. This is the truncated SPRT with its overshoot, not an
  approximation of it. Beside it, as notes, Wald's approximations for the
  untruncated SPRT (no overshoot): the operating characteristic and the
  average sample number (ASN).
- ``cusum``: each look's z is normal with mean ``d`` over the pooled
  standard error of that interval's counts; ``S = max(0, S + z - k)`` is a
  Markov chain on a grid over ``[0, h]`` (Brook and Evans), absorbed above ``h``.

The code, by what each module owns: ``curve`` (``power_curve``, its rows and
checks), ``judge`` (the judge studied), ``runs`` (the simulated runs),
``forms`` (which closed form), ``closed`` (what a closed form answers),
``schedule`` (when measurements arrive, the requests they count), ``looks``
(a sequential judge's looks), then one module per form: ``threshold``,
``crossing`` (z-test and mSPRT), ``sprt`` (with ``lattice`` and ``wald``)
and ``cusum``.
"""

from sim.power.crossing import _crossing
from sim.power.curve import PowerCurve, PowerRow, power_curve
from sim.power.cusum import _cusum_chain
from sim.power.forms import closed_form
from sim.power.schedule import measurements
from sim.power.sprt import _sprt_walk
from sim.power.threshold import _measurement_fails, _tail
from sim.power.wald import _wald

# What sim/cli.py, sim/render.py and the tests import; the private parts for tests/sim/test_power.py.
__all__ = [
    "PowerCurve",
    "PowerRow",
    "_crossing",
    "_cusum_chain",
    "_measurement_fails",
    "_sprt_walk",
    "_tail",
    "_wald",
    "closed_form",
    "measurements",
    "power_curve",
]
