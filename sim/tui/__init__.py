"""rollout-sim tui: the terminal UI (Textual). The engine never imports it."""
