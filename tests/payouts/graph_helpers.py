"""Comparing flow graphs (``FlowGraph`` has no ``__eq__``: its fields are numpy arrays).
No Django needed."""

from __future__ import annotations

import dataclasses

import numpy as np

from payouts.distribution.graph import FlowGraph


def assert_same_graph(got: FlowGraph, expected: FlowGraph) -> None:
    """Every field of ``got`` equals the one of ``expected``: each array element by element
    (named in the failure), the terminal count and the labels as they are."""
    for field in dataclasses.fields(FlowGraph):
        value, want = getattr(got, field.name), getattr(expected, field.name)
        if isinstance(want, np.ndarray):
            assert np.array_equal(value, want), field.name
        else:
            assert value == want, field.name
