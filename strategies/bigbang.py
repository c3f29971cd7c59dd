"""Big-bang: every user gets the new version at t = 0 (the baseline every strategy beats)."""

from sim import Decision, Observation


class BigBang:
    """100% at once, no judge of its own; only the scenario's watchers (alerts, people) can catch a defect."""

    def decide(self, obs: Observation) -> Decision:
        return Decision.done()
