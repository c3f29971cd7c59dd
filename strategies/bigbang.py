"""Big-bang: every user gets the new version at t = 0 (the baseline every strategy beats)."""

from sim import Decision, Observation


class BigBang:
    """100% at once, no analysis of its own; only service-wide monitoring and people can catch a defect."""

    def decide(self, obs: Observation) -> Decision:
        return Decision.done()
