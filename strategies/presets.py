"""Presets: real tools' documented configurations, as a built-in strategy plus parameters.

Each preset names its source. A scenario uses one like a strategy
(``use = "flagger-docs"``); its own ``params`` override the preset's.

The comment above each preset derives its two timings, which
``tests/strategies/test_presets.py`` checks exactly:

- *healthy*: when a healthy release is promoted (``rollout_duration_s``),
  with the watchers off and no scenario analysis;
- *failing*: when the strategy starts its rollback (``rollback_s``) on a
  release whose every check fails (a defect with ``harm = 1.0`` of kind
  ``errors``), judged by the preset's own judge or, for a preset without
  one, by the scenario's ``detection.analysis``. That analysis measures at
  every scrape and fails once its failures exceed ``failure_limit`` (F):
  at ``(F + 1) x scrape_interval`` when every measurement fails.

Facts about the tools are from /work/shared/reference/progressive-delivery-tools.md
(section 5 and the sources it names); where a tool's documentation and its
controller code disagree, the presets follow the code.
"""

from __future__ import annotations

from typing import Any

from strategies.argo import DEFAULT_STEPS

ARGO_DOCS_STEPS: list[dict[str, Any]] = [dict(step) for step in DEFAULT_STEPS]  # the argo default is this example
CODEDEPLOY_SOURCE = (
    "awsdocs/aws-codedeploy-user-guide:doc_source/deployment-configurations.md; "
    "https://docs.aws.amazon.com/codedeploy/latest/userguide/deployment-configurations.html"
)
CODEDEPLOY_LINEAR = "https://docs.aws.amazon.com/codedeploy/latest/APIReference/API_TimeBasedLinear.html"
APPCONFIG_SOURCE = (
    "https://docs.aws.amazon.com/appconfig/latest/userguide/appconfig-creating-deployment-strategy-predefined.html; "
    "awsdocs/aws-appconfig-user-guide:doc_source/appconfig-creating-deployment-strategy.md (the linear timeline)"
)


def _flagger_judge(threshold: int) -> dict[str, dict[str, Any]]:
    """Flagger's built-in ``request-success-rate`` check (``thresholdRange.min: 99``, metric interval 1m).

    Counted as Flagger counts (``rule = "flagger"``): a check with no data
    ("no values found", here no canary request in the window) fails too,
    and the judge gives up at ``threshold`` failed checks. The docs' second
    metric, ``request-duration`` (P99 <= 500 ms), is left out: the
    simulator's slow share is relative to the scenario's own latency
    objective, which need not be 500 ms; give ``max_slow_rate = 0.01`` when
    it is (and the healthy slow share is well below 1%).
    """
    params = {"rule": "flagger", "threshold": threshold, "interval": "1m", "window": "1m", "max_error_rate": 0.01}
    return {"analysis": {"use": "threshold", "params": params}}


PRESETS: dict[str, dict[str, Any]] = {}

# ---------------------------------------------------------------------------------------------------------
# Argo Rollouts
# ---------------------------------------------------------------------------------------------------------

# argo-docs-background: the canary of Argo's analysis docs, "Background Analysis" example.
#   steps 20% / pause 10m / 40% / 10m / 60% / 10m / 80% / 10m; analysis template `success-rate` from
#   startingStep 2 (the setWeight 40 step), metric interval 5m, successCondition result[0] >= 0.95,
#   failureLimit 3. As judge params: max_error_rate 0.05 (success below 0.95 fails), failure_limit 3,
#   interval 5m, rule argo. The template's query is irate(...[5m]), which uses the last two samples of the
#   range: about one scrape, so window 1m.
# Healthy: the four 10-minute pauses follow each other (setWeight is instant), then the last step is done
#   and the rollout promoted: 4 x 600 = 2,400 s.
# Failing: the background run starts at step 2, reached when the first pause ends (600 s); it measures
#   every 5 min from there (900, 1,200, 1,500, 1,800 s). Argo's code fails a metric when
#   failed > failureLimit (analysis/analysis.go), so on the 4th failed measurement, not the 3rd the docs
#   describe: 600 + (3 + 1) x 300 = 1,800 s. The abort sets the canary weight to 0 at once.
# Not modelled: the query covers the whole service (destination_service), the judge reads the canary's
#   requests only (strategies/judges.py, Threshold.check reads data.new).
PRESETS["argo-docs-background"] = {
    "strategy": "argo",
    "params": {"steps": ARGO_DOCS_STEPS, "background": {"judge": "analysis", "startingStep": 2}},
    "judges": {
        "analysis": {
            "use": "threshold",
            "params": {"rule": "argo", "max_error_rate": 0.05, "failure_limit": 3, "interval": "5m", "window": "1m"},
        }
    },
    "source": "argoproj/argo-rollouts:docs/features/analysis.md (Background Analysis); "
    "https://argo-rollouts.readthedocs.io/en/stable/features/analysis/",
    "about": "Argo Rollouts docs canary: 20/40/60/80% with 10-min pauses, background analysis from step 2",
}

# argo-getting-started: the rollout of Argo's getting-started guide (5 replicas, no traffic router).
#   steps 20% / pause {} / 40% / 10s / 60% / 10s / 80% / 10s. Five replicas make these weights whole pods
#   (1, 2, 3, 4), so the basic canary's replica quantization changes nothing. No analysis of its own.
# Healthy: the `pause: {}` waits for a person: the strategy sets 20% at 0 and pauses 1 ms later
#   (ArgoCanary pauses after the weight is in force), the scenario's approver answers
#   `people.approver` later (A), then three 10-second pauses: 0.001 + A + 3 x 10 s. With a fixed
#   approver of 10 min: 0.001 + 600 + 30 = 630.001 s.
# Failing: no analysis of its own, so only the scenario's detection.analysis can abort it; ArgoCanary runs
#   it as a background analysis from step 0 (also during the manual pause): rollback at
#   (F + 1) x scrape_interval, e.g. F = 1 and 10-second scrapes: 20 s. With no analysis: never.
# Not modelled: without a traffic router Argo aborts a basic canary by a rolling update back to stable;
#   ArgoCanary's rollback is always instant (strategies/argo.py: `rollback = RollbackStyle.instant()`).
PRESETS["argo-getting-started"] = {
    "strategy": "argo",
    "params": {
        "steps": [
            {"setWeight": 20},
            {"pause": {}},
            {"setWeight": 40},
            {"pause": {"duration": "10s"}},
            {"setWeight": 60},
            {"pause": {"duration": "10s"}},
            {"setWeight": 80},
            {"pause": {"duration": "10s"}},
        ]
    },
    "source": "argoproj/argo-rollouts:docs/getting-started.md (basic rollout.yaml); "
    "https://argo-rollouts.readthedocs.io/en/stable/getting-started/",
    "about": "Argo Rollouts getting started: 20%, manual promotion, then 40/60/80% 10 s apart",
}

# argo-bluegreen: Argo's blue-green defaults: autoPromotionEnabled true (promote as soon as the new stack
#   is ready, no preview wait: preview 0), scaleDownDelaySeconds 30 (the old stack is kept 30 s after the
#   switch, so switching back is instant until then: post 30s), abortScaleDownDelaySeconds 30 (the aborted
#   stack is scaled down after traffic has left it: no effect on exposure). No analysis of its own;
#   prePromotionAnalysis and postPromotionAnalysis are options (`preview`, `post`).
# Healthy: everyone is switched at t = 0; the release is done when the old stack is scaled down, 30 s
#   later: 30 s.
# Failing: no analysis of its own. The scenario's detection.analysis acts as a post-promotion analysis
#   while the old stack is up (Argo cancels a post-promotion analysis when the old stack is scaled down):
#   it switches back at (F + 1) x scrape_interval if that is before 30 s (F = 1, 10-second scrapes: 20 s),
#   else never (F = 1 with 60-second scrapes fails at 120 s, after the promotion: the defect escapes).
PRESETS["argo-bluegreen"] = {
    "strategy": "bluegreen",
    "params": {"preview": "0s", "post": "30s"},
    "source": "argoproj/argo-rollouts:docs/features/bluegreen.md; "
    "https://argo-rollouts.readthedocs.io/en/stable/features/bluegreen/",
    "about": "Argo Rollouts blue-green defaults: auto-promotion at once, old stack kept 30 s",
}

# ---------------------------------------------------------------------------------------------------------
# Flagger. Timing from its scheduler (pkg/controller/scheduler.go, advanceCanary), which runs every
# `analysis.interval`. The tick at t = 0 runs no metric check (pre-rollout hooks only) and sets the first
# weight. Every later tick, in this order: (1) rolls back if failedChecks >= threshold; (2) runs the metric
# checks: a failed check (or "no values found") increments failedChecks and halts advancement (the weight
# is kept); (3) advances. In runCanary, a tick whose weight is already >= maxWeight promotes (copies the
# canary spec over the primary): the simulator's promotion, from which the new version serves everyone
# (Flagger reports Succeeded two ticks later, after routing traffic back to the primary and scaling the
# canary down). failedChecks is cumulative (reset only by a new revision).
# So with every check failing, checks fail at 1, 2, ..., threshold intervals and the rollback is at the
# next tick: (threshold + 1) x interval. The docs round this to `interval x threshold`.
# ---------------------------------------------------------------------------------------------------------

# flagger-docs: the canary analysis of Flagger's deployment-strategies docs: interval 1m, threshold 10,
#   maxWeight 50, stepWeight 2 (judge: request-success-rate >= 99%, threshold 10).
# Healthy: 2% at 0, +2% at each passing tick: 50% at 24 min (25 weights: 2, 4, ..., 50 at 0..24 min);
#   the tick at 25 min sees 50 >= maxWeight and promotes: (50 / 2) x 60 = 1,500 s (the docs:
#   interval x maxWeight / stepWeight = 25 min).
# Failing: checks fail at 1..10 min, the weight stays at 2%; the tick at 11 min rolls back:
#   (10 + 1) x 60 = 660 s (the docs say interval x threshold = 10 min).
PRESETS["flagger-docs"] = {
    "strategy": "flagger",
    "params": {"interval": "1m", "threshold": 10, "maxWeight": 50, "stepWeight": 2},
    "judges": _flagger_judge(10),
    "source": "fluxcd/flagger:docs/gitbook/usage/deployment-strategies.md (Canary Release); "
    "https://docs.flagger.app/usage/deployment-strategies",
    "about": "Flagger docs canary: +2% a minute up to 50%, rollback at 10 failed checks",
}

# flagger-howitworks: the podinfo canary of Flagger's "How it works": interval 1m, threshold 10,
#   maxWeight 50, stepWeight 5, metrics request-success-rate min 99 and request-duration max 500 (1m).
# Healthy: 5% at 0 ... 50% at 9 min (10 weights); promotion at the tick at 10 min: (50 / 5) x 60 = 600 s.
# Failing: as flagger-docs, (10 + 1) x 60 = 660 s, the weight held at 5%.
PRESETS["flagger-howitworks"] = {
    "strategy": "flagger",
    "params": {"interval": "1m", "threshold": 10, "maxWeight": 50, "stepWeight": 5},
    "judges": _flagger_judge(10),
    "source": "fluxcd/flagger:docs/gitbook/usage/how-it-works.md; https://docs.flagger.app/usage/how-it-works",
    "about": "Flagger how-it-works canary: +5% a minute up to 50%, rollback at 10 failed checks",
}

# flagger-nonlinear: the "Rollout Weights" example, stepWeights [1, 2, 10, 80], whose last weight is the
#   max weight. The example gives only the weights, in place of maxWeight/stepWeight in the page's canary
#   analysis: interval 1m and threshold 10 come from that analysis. (stepWeights alone would get Flagger's
#   code defaults, interval 60 s and threshold 1: override `threshold` to see it.)
# Healthy: 1% at 0, 2% at 1 min, 10% at 2 min, 80% at 3 min; the tick at 4 min promotes: 4 x 60 = 240 s.
# Failing: (10 + 1) x 60 = 660 s, the weight held at 1%.
PRESETS["flagger-nonlinear"] = {
    "strategy": "flagger",
    "params": {"interval": "1m", "threshold": 10, "stepWeights": [1, 2, 10, 80]},
    "judges": _flagger_judge(10),
    "source": "fluxcd/flagger:docs/gitbook/usage/deployment-strategies.md (Rollout Weights); "
    "https://docs.flagger.app/usage/deployment-strategies",
    "about": "Flagger non-linear canary: weights 1, 2, 10, 80% a minute apart, then promotion",
}

# flagger-bluegreen: interval 1m, iterations 10, threshold 2, no match: blue-green. On the Kubernetes
#   provider the canary serves only the load tester's requests during the analysis; the blue-green
#   tutorial's load test is `hey -z 1m -q 10 -c 2` (2 workers x 10 requests/s): preview_rate 20.
# Healthy: tick 0 counts iteration 1 (no check), ticks 1..9 count iterations 2..10; tick 10 routes all
#   traffic to the canary and counts an 11th; tick 11 promotes (runBlueGreen promotes once
#   iterations < status.iterations): (10 + 1) x 60 = 660 s, one interval more than the docs' 10 minutes.
# Failing: checks fail at 1 and 2 min; tick 3 rolls back: (2 + 1) x 60 = 180 s.
PRESETS["flagger-bluegreen"] = {
    "strategy": "flagger",
    "params": {"interval": "1m", "threshold": 2, "iterations": 10, "preview_rate": 20.0},
    "judges": _flagger_judge(2),
    "source": "fluxcd/flagger:docs/gitbook/usage/deployment-strategies.md (Blue/Green Deployments), "
    "docs/gitbook/tutorials/kubernetes-blue-green.md (load test); "
    "https://docs.flagger.app/usage/deployment-strategies",
    "about": "Flagger blue-green: 10 one-minute iterations on load-test traffic, rollback at 2 failed checks",
}

# flagger-ab: interval 1m, iterations 10, threshold 2, match on the header x-canary ~ "insider" or the cookie
#   canary=always: every user of one segment goes to the canary. THE SCENARIO MUST GIVE THAT SEGMENT: a
#   segment named "insider" (the default below, after the docs' header), or `match_segment = "<segment>"`
#   in the strategy's params; a scenario with neither fails the run with "unknown segment 'insider'".
#   (Without match_segment Flagger would run blue-green instead.)
# Healthy: tick 0 routes the segment and counts iteration 1; ticks 1..9 count iterations 2..10; tick 10
#   (iterations == 10) promotes: 10 x 60 = 600 s (the docs: interval x iterations).
# Failing: checks fail at 1 and 2 min; tick 3 rolls back: (2 + 1) x 60 = 180 s.
PRESETS["flagger-ab"] = {
    "strategy": "flagger",
    "params": {"interval": "1m", "threshold": 2, "iterations": 10, "match_segment": "insider"},
    "judges": _flagger_judge(2),
    "source": "fluxcd/flagger:docs/gitbook/usage/deployment-strategies.md (A/B Testing); "
    "https://docs.flagger.app/usage/deployment-strategies",
    "about": "Flagger A/B: one segment (match_segment, default 'insider') for 10 iterations, then everyone",
}

# ---------------------------------------------------------------------------------------------------------
# AWS CodeDeploy (Lambda and ECS traffic shifting). The predefined configurations set the traffic shape
# only; CloudWatch alarms belong to the deployment group, so these presets have no judge: the scenario's
# detection.analysis (or a watcher's alarm) stands for the alarm, and any alarm rolls back at once
# (traffic back to the original version). A deployment ends at its last traffic shift: after that no
# alarm stops it. TimeBasedLinear shifts linearPercentage "at the start of each increment" (API
# reference), so 10% increments every N minutes reach 100% after 9 x N minutes (the reference's
# "10 increments, so 10-100 min" counts the last increment's whole interval).
# Failing (every preset below but AllAtOnce): the alarm at (F + 1) x scrape_interval, before the last shift;
# e.g. F = 1, 10-second scrapes: 20 s.
# ---------------------------------------------------------------------------------------------------------

# codedeploy-allatonce: CodeDeployDefault.LambdaAllAtOnce / ECSAllAtOnce: all traffic at once.
# Healthy: 100% at t = 0 and done: 0 s. Failing: done at 0, before any alarm: never rolled back by the
#   strategy (only the scenario's watchers, through their people, can).
PRESETS["codedeploy-allatonce"] = {
    "strategy": "linear",
    "params": {"step": 1.0},
    "source": CODEDEPLOY_SOURCE,
    "about": "AWS CodeDeploy AllAtOnce (Lambda/ECS): all traffic shifted at once",
}

# codedeploy-canary10percent5minutes: 10% of the traffic, the remaining 90% five minutes later.
# Healthy: 10% at 0, 100% at 5 min, done then: 300 s.
PRESETS["codedeploy-canary10percent5minutes"] = {
    "strategy": "twostep",
    "params": {"first": 0.1, "wait": "5m"},
    "source": CODEDEPLOY_SOURCE,
    "about": "AWS CodeDeploy Canary10Percent5Minutes: 10%, then the rest after 5 minutes",
}

# codedeploy-canary10percent15minutes: 10%, the remaining 90% fifteen minutes later (Lambda and ECS).
# Healthy: 100% at 15 min, done then: 900 s.
PRESETS["codedeploy-canary10percent15minutes"] = {
    "strategy": "twostep",
    "params": {"first": 0.1, "wait": "15m"},
    "source": CODEDEPLOY_SOURCE,
    "about": "AWS CodeDeploy Canary10Percent15Minutes: 10%, then the rest after 15 minutes",
}

# codedeploy-linear10percentevery1minute: +10% every minute (Lambda Linear10PercentEvery1Minute, ECS
#   ECSLinear10PercentEvery1Minutes).
# Healthy: 10% at 0, 20% at 1 min, ..., 100% at 9 min, done then: 9 x 60 = 540 s.
PRESETS["codedeploy-linear10percentevery1minute"] = {
    "strategy": "linear",
    "params": {"step": 0.1, "every": "1m"},
    "source": f"{CODEDEPLOY_SOURCE}; {CODEDEPLOY_LINEAR}",
    "about": "AWS CodeDeploy Linear10PercentEvery1Minute: +10% of the traffic every minute",
}

# codedeploy-linear10percentevery3minutes: +10% every 3 minutes (Lambda and ECS).
# Healthy: 100% at 9 x 3 min, done then: 9 x 180 = 1,620 s.
PRESETS["codedeploy-linear10percentevery3minutes"] = {
    "strategy": "linear",
    "params": {"step": 0.1, "every": "3m"},
    "source": f"{CODEDEPLOY_SOURCE}; {CODEDEPLOY_LINEAR}",
    "about": "AWS CodeDeploy Linear10PercentEvery3Minutes: +10% of the traffic every 3 minutes",
}

# ---------------------------------------------------------------------------------------------------------
# AWS AppConfig predefined deployment strategies. A deployment of duration D with growth G runs steps of
# G% (linear) or G x 2^N % (exponential) evenly over D, then watches alarms for FinalBakeTime after 100%;
# done at D + FinalBakeTime ("If no alarms are received in this time, the deployment is complete").
# AppConfig's documented timeline starts at 0% and reaches the first step one interval in (a 10 h, 20%
# deployment: 20% at 2 h ... 100% at 10 h). The Linear and Exponential strategies serve the first step at
# t = 0 and 100% one interval before D (strategies/linear.py, _Schedule: step N from N x every); so that
# the promotion comes at AppConfig's D + FinalBakeTime, `bake` = FinalBakeTime + one interval: every
# share, 100% included, is reached one interval earlier than in AppConfig, and the end is AppConfig's.
# Targets are hosts, each serving whoever reaches it: unit request (override `unit = "user"` for the
# AppConfig agent's entity-based, sticky rollouts). No judge: the environment's CloudWatch alarms are the
# scenario's detection.analysis or watchers, which roll back at once also during the final bake.
# Failing: the alarm at (F + 1) x scrape_interval (F = 1, 10-second scrapes: 20 s), before the end.
# ---------------------------------------------------------------------------------------------------------

# appconfig-allatonce: AppConfig.AllAtOnce: all targets at once (D = 0), FinalBakeTime 10 min.
# Healthy: 100% at 0 (no interval to shift), done after the bake: 600 s.
PRESETS["appconfig-allatonce"] = {
    "strategy": "linear",
    "params": {"step": 1.0, "bake": "10m"},
    "source": APPCONFIG_SOURCE,
    "about": "AWS AppConfig AllAtOnce: every target at once, then a 10-minute bake watching alarms",
}

# appconfig-linear50percentevery30seconds: 50% every 30 s over D = 1 min, FinalBakeTime 1 min (testing).
# Healthy: 50% at 0, 100% at 30 s, bake 30 s + 1 min: done at 30 + 90 = 120 s = D + FinalBakeTime.
PRESETS["appconfig-linear50percentevery30seconds"] = {
    "strategy": "linear",
    "params": {"step": 0.5, "every": "30s", "bake": "90s"},
    "source": APPCONFIG_SOURCE,
    "about": "AWS AppConfig Linear50PercentEvery30Seconds: 50% per 30 s over 1 min, 1-minute bake",
}

# appconfig-linear20percentevery6minutes: 20% every 6 min over D = 30 min, FinalBakeTime 30 min
#   (AWS recommended).
# Healthy: 20% at 0, ..., 100% at 24 min, bake 6 + 30 min: done at 24 + 36 = 60 min = 3,600 s.
PRESETS["appconfig-linear20percentevery6minutes"] = {
    "strategy": "linear",
    "params": {"step": 0.2, "every": "6m", "bake": "36m"},
    "source": APPCONFIG_SOURCE,
    "about": "AWS AppConfig Linear20PercentEvery6Minutes: +20% every 6 min over 30 min, 30-minute bake",
}

# appconfig-canary10percent20minutes: exponential, growth factor 10, D = 20 min, FinalBakeTime 10 min
#   (AWS recommended): 10, 20, 40, 80, 100% (G x 2^N until 100): 5 steps, one every 20 / 5 = 4 min.
# Healthy: 10% at 0, 20% at 4, 40% at 8, 80% at 12, 100% at 16 min, bake 4 + 10 min: done at
#   16 + 14 = 30 min = 1,800 s.
PRESETS["appconfig-canary10percent20minutes"] = {
    "strategy": "exponential",
    "params": {"growth_factor": 10, "every": "4m", "bake": "14m"},
    "source": APPCONFIG_SOURCE,
    "about": "AWS AppConfig Canary10Percent20Minutes: exponential from 10% over 20 min, 10-minute bake",
}

# ---------------------------------------------------------------------------------------------------------
# Deployment pipelines and flag platforms
# ---------------------------------------------------------------------------------------------------------

# amazon-waves: Amazon's pipelines: a one-box stage in the first region, then region by region, each stage
#   baked with its alarms watched and rolled back automatically. THE SCENARIO SHOULD GIVE ITS REGIONS, in
#   order, as segment names: `regions = ["eu", "us"]` (one wave each). The default, ["*"], runs anywhere:
#   a one box, then every segment at once. Defaults (choices, the article gives no numbers): 100 hosts per
#   region, a one box of 1 (1% of the first wave's requests), a 1-hour bake for the one box and for
#   every wave; the rollback is the scenario's [rollback] (a redeploy of the previous version).
# Healthy: one_box_bake + the waves' bakes: 1 h + 1 h = 7,200 s (with two regions: 3 h).
# Failing: no judge of its own; the scenario's detection.analysis, restarted at each stage, fails during the
#   one box at (F + 1) x scrape_interval (F = 1, 10-second scrapes: 20 s).
PRESETS["amazon-waves"] = {
    "strategy": "waves",
    "params": {"regions": ["*"], "bake": "1h", "instances": 100, "one_box": 1, "one_box_bake": "1h"},
    "source": "https://aws.amazon.com/builders-library/automating-safe-hands-off-deployments/",
    "about": "Amazon-style waves: one box, then region by region (give regions), 1-hour bakes",
}

# microsoft-rings: Microsoft's safe deployment rings: Ring 0 the team and Ring 1 the company (here the
#   segment "internal"), Ring 2 the first external slice, about 10 x Ring 1 ("beta"), then Rings 3..N up
#   to the whole service (the rest, "*", in one step). Each ring runs for "an appropriate number of
#   high-load periods, such as workdays": 1 day each (a choice: the sources give hours to days, growing
#   per ring in the Well-Architected guidance, shrinking in Microsoft Online Services).
#   THE SCENARIO NEEDS SEGMENTS "internal" AND "beta" (as the bundled scenarios have), or its own `rings`.
# Healthy: 1 d + 1 d, then everyone, which is the promotion: 172,800 s.
# Failing: no judge of its own; the scenario's detection.analysis, restarted at each ring, fails in ring 0
#   at (F + 1) x scrape_interval (F = 1, 10-second scrapes: 20 s).
PRESETS["microsoft-rings"] = {
    "strategy": "rings",
    "params": {
        "rings": [
            {"segments": ["internal"], "bake": "1d"},
            {"segments": ["beta"], "bake": "1d"},
            {"segments": ["*"]},
        ]
    },
    "source": "https://learn.microsoft.com/en-us/training/modules/audit-security-development-operation/"
    "safe-deployment-process; MicrosoftDocs/well-architected:well-architected/operational-excellence/"
    "safe-deployments.md",
    "about": "Microsoft-style rings: internal, then beta, a day each, then everyone",
}

# kayenta-recommended: Spinnaker's canary best practices with Kayenta's standalone canary analysis: lifetime 3 h,
#   analysisIntervalMins 60 (3 judgments), beginCanaryAnalysisAfter 0, no lookbackMins (each judgment scores
#   everything since the start: a growing lookback), marginal 75 / pass 95. A canary and an equal fresh baseline
#   (baseline = true) of 5% of the requests each (a choice: Kayenta does not route traffic; 5% is the Google SRE
#   Workbook's canary), compared with each other. The judge is `kayenta` (strategies/kayenta.py), as
#   NetflixACAJudge configures it: a Mann-Whitney test per metric at 98% confidence, tolerance 0.25 of the
#   Hodges-Lehmann shift, mean-ratio effect sizes allowed at 1.0; a sample every 1m (a choice), 60 to a
#   judgment, so the first judgment has more than the 50 data points per metric Kayenta asks for. Metrics:
#   error_rate and slow_rate, weight 1 each, direction increase. A judgment below marginal fails the judge at
#   once; after the 3rd a passing score passes it, a marginal one leaves it inconclusive.
# Healthy: 5% for the 3-hour lifetime, then promoted: 10,800 s (the 3rd judgment comes with the promotion).
# Failing: every request of the canary fails, the baseline's do not: error_rate is High, slow_rate Pass, the
#   score 50 < 75: the first judgment, at 60 samples of 1 min, fails: 3,600 s (Kayenta's t_detect =
#   beginAfter + interval).
PRESETS["kayenta-recommended"] = {
    "strategy": "canary",
    "params": {"steps": [0.05], "bake": "3h", "check": "1h", "baseline": True},
    "judges": {
        "kayenta": {
            "use": "kayenta",
            "params": {
                "against": "baseline",
                "confidence": 0.98,
                "tolerance": 0.25,
                "interval": "1m",
                "score_every": 60,
                "count": 3,
                "lookback": 0,
                "pass_score": 95,
                "marginal_score": 75,
            },
        }
    },
    "source": "spinnaker/spinnaker.io:content/en/docs/guides/user/canary/best-practices/_index.md; "
    "https://spinnaker.io/docs/guides/user/canary/best-practices/; spinnaker/kayenta:kayenta-judge/.../"
    "NetflixACAJudge.scala, kayenta-standalone-canary-analysis/.../SetupAndExecuteCanariesStage.java",
    "about": "Kayenta-recommended canary: canary vs fresh baseline for 3 h, Mann-Whitney judgments every hour",
}

# launchdarkly-guarded: a guarded rollout with LaunchDarkly's suggested stages: 1% of users for 1 h, 10% for
#   24 h, 50% for 24 h, then 100%. Users are sticky (hash buckets). LaunchDarkly monitors "until the
#   rollout reaches 100%", so the release is done there (the skill's 24 h at 100% is not modelled:
#   FlagRollout is done at its first share of 1). Regression: the error rate of the new variation against
#   the original's (the stable arm), the skill's example threshold 0.05 (a 5% increase) with automatic
#   rollback. LaunchDarkly's sequential test has no counterpart (strategies/judges.py): a judgment fails
#   when the new error rate is above 1.05 x the original's + 0.001, on the last hour, every 10 minutes,
#   with at least 10,000 requests per arm (fewer: no verdict, LaunchDarkly's "analysis pending"); the
#   absolute margin and the minimum sample stand for "the confidence interval entirely beyond the
#   threshold". A failed judgment turns the flag off at once.
# Healthy: 1 h + 24 h + 24 h, then 100%: 49 h = 176,400 s.
# Failing: the first judgment, 10 min in, fails (given 10,000 new-variation requests by then, i.e. at
#   least about 1,700 requests/s on the service at 1%): 600 s.
PRESETS["launchdarkly-guarded"] = {
    "strategy": "flag",
    "params": {"schedule": [["0s", 0.01], ["1h", 0.1], ["25h", 0.5], ["49h", 1.0]]},
    "judges": {
        "guard": {
            "use": "baseline",
            "params": {
                "against": "stable",
                "max_ratio": 1.05,
                "max_difference": 0.001,
                "rule": "argo",
                "failure_limit": 0,
                "min_requests": 10_000,
                "interval": "10m",
                "window": "1h",
            },
        }
    },
    "source": "https://launchdarkly.com/docs/home/releases/guarded-rollouts; "
    "launchdarkly/ai-tooling:skills/feature-flags/launchdarkly-guarded-rollout/SKILL.md",
    "about": "LaunchDarkly-style guarded rollout: 1% / 1 h, 10% / 24 h, 50% / 24 h, 100%; auto-rollback",
}
