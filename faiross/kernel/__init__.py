"""The kernel every app may use: money values, shares, recipient keys, error helpers.

Nothing here has models or imports an app, so it sits below ``projects`` in the layers.
"""
