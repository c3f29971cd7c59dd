"""Help: the keys of every screen, and the measures in plain words (for workshop attendees)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

HELP = """\
# rollout-sim

Watch strategies roll the same release out to the same users, side by side,
then compare them over many replications.

## Keys

| where | key | what it does |
|---|---|---|
| anywhere | `?` | this help (`escape` closes it) |
| anywhere | `q` | quit |
| anywhere | `t` | light or dark theme |
| scenarios | `↑` `↓` | choose a scenario (the right side says what it teaches) |
| scenarios | `space` | (in the strategy list) include or leave out a strategy |
| scenarios | `h` | healthy release (the defect removed) or defective |
| scenarios | `r`, `enter` | race one replication |
| scenarios, race | `c` | compare over many replications |
| scenarios, race, results | `k` | knobs: change the defect, the traffic, a strategy's parameters |
| race | `space` | pause or resume |
| race | `+` `-` | faster, slower |
| race | `n` | run to the next control event (exposure change, verdict, alarm, rollback) |
| race | `r` | replay the same race (same seed) |
| race | `s` | a new seed: another replication |
| results | `x` | cancel the comparison |
| results | `r` | run the comparison again |
| results | `e` | export to `reports/` (CSV, JSON, Markdown) |
| knobs | `ctrl+s` | apply and compare again (the previous result stays beside) |
| knobs | `ctrl+r` | reset the fields |
| any screen | `escape` | back |

## The race

Each lane is one strategy on the same traffic and the same defect. Rows:
**exposure** (the share of requests or users the new version serves; one
row per segment when the strategy targets segments), **errors** (the new
version's error rate against stable, or the baseline arm), **harmed**
(distinct users harmed so far, on one scale for every lane), **marks**:
▲ the defect started, ◆ an alarm fired, ✗ detected (a rollback starts),
✓ the rollback is complete, ★ promoted to everyone.

## The measures, in plain words

- **Blast radius**: how many distinct users (and requests) the defect
  actually hurt, until the rollback was complete. Smaller is better.
- **Exposed users**: distinct users who got the new version at least once,
  defective or not. A per-request canary touches many users a little; a
  sticky (per-user) flag touches few users fully.
- **Time to detection (TTD)**: from the defect's first effect to the moment
  something caught it (a judge, a service alert, user reports).
- **Time to mitigation (TTM)**: from the defect's first effect to the moment
  the rollback was complete and nobody was served the new version.
- **Rollout duration**: how long a healthy release takes to reach everyone:
  the cost of caution.
- **Outcomes**: **rolled back** (a defect caught and undone), **escaped**
  (a defect that reached everyone and was never caught), **completed** (a
  healthy release promoted), **false rollback** (a healthy release rolled
  back on noise), **stalled** (still in progress when the simulation ended).
- **Caught late**: the defect was only caught after everyone already had the
  new version: the rollback helped less than it looks.
- **Caught by**: which detector caught the defect (the strategy's judge, the
  service alert, user reports).
"""


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "app.pop_screen", "Close")]

    DEFAULT_CSS = """
    HelpScreen {
        align: center middle;
    }
    HelpScreen > VerticalScroll {
        width: 100%;
        max-width: 100;
        height: 100%;
        border: round $primary;
        background: $surface;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Markdown(HELP)
