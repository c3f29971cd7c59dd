"""Built-in strategies, written exactly as a user's plugin would be.

They import only ``sim``'s public API and are found through the
``rollout_sim.strategies`` entry-point group, like any third-party plugin.
"""
