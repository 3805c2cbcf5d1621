"""costlab.ingest.util.usage_tree: the rollup rule every trace source shares (issue 13 §4)."""

from __future__ import annotations

from costlab.ingest import util as u


def scopes(parents, calls, estimable=(), with_usage=()):
    """usage_scope per node; ``with_usage`` adds non-call nodes carrying usage."""
    tree = u.usage_tree(parents, calls, estimable)
    has = set(calls) | set(with_usage)
    return {n: u.usage_scope(n, n in has, tree) for n in parents}, tree


def test_parent_is_rollup_whatever_its_numbers_equal():
    # agent (usage = child a's) over calls a and b, a tool between: a and b are the calls
    got, _ = scopes({"agent": None, "a": "agent", "tool": "agent", "b": "agent"}, ["a", "b"],
                    with_usage=["agent"])  # fmt: skip
    assert got == {"agent": "rollup", "a": "self", "tool": "none", "b": "self"}


def test_llm_over_llm_and_deep_descendants():
    parents = {"root": None, "gen": "root", "tool": "gen", "inner": "tool"}
    got, tree = scopes(parents, ["gen", "inner"], with_usage=["root"])
    assert got == {"root": "rollup", "gen": "rollup", "tool": "none", "inner": "self"}
    assert tree.rollups == {"root", "gen", "tool"}


def test_orphan_and_missing_parent_are_roots():
    got, _ = scopes({"x": "not-in-file"}, ["x"])
    assert got == {"x": "self"}


def test_a_non_call_with_usage_below_does_not_make_a_rollup():
    got, _ = scopes({"gen": None, "span": "gen"}, ["gen"], with_usage=["span"])
    assert got == {"gen": "self", "span": "self"}


def test_estimation_deepest_first_and_never_under_a_reporting_call():
    # three llm spans without usage in a chain: only the deepest is estimated
    _, tree = scopes({"a": None, "b": "a", "c": "b"}, [], ["a", "b", "c"])
    assert (tree.estimated, tree.rollups, tree.wrapped) == ({"c"}, {"a", "b"}, set())
    # an llm span without usage under a call that reports usage: the wrapper is the call
    got, tree = scopes({"w": None, "child": "w"}, ["w"], ["child"])
    assert got == {"w": "self", "child": "none"} and tree.wrapped == {"child"}
    # an agent reporting usage over an llm span without it: the llm span is estimated, the agent
    # (no call itself) becomes its rollup
    got, tree = scopes({"agent": None, "llm": "agent"}, [], ["llm"], with_usage=["agent"])
    assert got == {"agent": "rollup", "llm": "self"} and tree.estimated == {"llm"}


def test_cycles_terminate():
    got, tree = scopes({"a": "b", "b": "a"}, ["a"])  # a broken file: each the other's parent
    assert got == {"a": "self", "b": "none"} and tree.rollups == {"b"}
