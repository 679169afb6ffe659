"""What a comparison matched (its budget, read from the resolved recipes) and what holds across its validation
curves against training seconds: the report's budget line and its sentence on the learning curves."""

from __future__ import annotations

from hf_rnn.comparison.schema import VERDICT_FAMILIES
from hf_rnn.runs.run import Run


def budget_line(recipes) -> str:
    """What was matched, read from the resolved recipes (overrides included)."""
    seconds = {r.training.max_seconds for r in recipes}
    epochs = {r.training.epochs for r in recipes}
    examples = {r.task.max_train_examples for r in recipes}
    if len(seconds) == 1 and None not in seconds:
        line = f"matched wall-clock budget: {seconds.pop():g} s of training per model"
    elif seconds == {None} and len(epochs) == 1 and None not in epochs:
        line = (f"matched budget: {epochs.pop():g} epochs of training per model (early stopping on the "
                "validation metric may end a run sooner)")
    elif seconds == {None} and None not in epochs:
        # each family at its own schedule over the same data (e.g. an LLM fine-tuned for about one epoch)
        line = ("budget in epochs over the same training data, each model at its own schedule: " + ", ".join(
            f"{r.model.name} {r.training.epochs:g}" for r in recipes)
            + " (early stopping on the validation metric may end a run sooner)")
    else:
        line = "training budgets differ: " + ", ".join(
            f"{r.model.name} {r.training.max_seconds or 'no'} s" for r in recipes)
    from hf_rnn.tasks import TASKS

    windows = all(TASKS[r.task.name].app_input == "window" for r in recipes)  # a series is never cut
    if len(examples) == 1 and None not in examples and not windows:
        line += f", on {examples.pop():,} training examples"
    return line


def curve_summary(runs: list[Run], metric: str, greater_is_better: bool) -> str:
    """One sentence on what holds across the validation curves against training seconds.

    Compares the best-scoring model of each family (by its last evaluation) at every evaluation time of
    either, over the span where both have been evaluated (a curve holds its last value between evaluations).
    The sentence says whether one family leads throughout, or when the lead changes.
    """
    by_family: dict[str, tuple[str, list[tuple[float, float]]]] = {}
    for run in runs:
        points = [(seconds, value) for _, seconds, value in run.curve() if value == value]  # drop NaN
        if not points:
            continue
        last = points[-1][1]
        held = by_family.get(run.family)
        if held is None or (last > held[1][-1][1]) == greater_is_better and last != held[1][-1][1]:
            by_family[run.family] = (run.label, points)
    if len(by_family) < 2:
        return ""
    # the lecture's two sides where both trained (the RNN and the LLM), else the first two families by name
    pair = list(VERDICT_FAMILIES[::-1]) if set(VERDICT_FAMILIES) <= set(by_family) else sorted(by_family)[:2]
    (name_a, a), (name_b, b) = (by_family[f] for f in pair)
    start, end = max(a[0][0], b[0][0]), min(a[-1][0], b[-1][0])

    def at(curve, t):
        return [v for s, v in curve if s <= t][-1]

    times = sorted({s for s, _ in a + b if start <= s <= end})
    if not times:
        return (f"The validation curves do not overlap in time ({name_a} evaluated {a[0][0]:.0f}-{a[-1][0]:.0f} s, "
                f"{name_b} {b[0][0]:.0f}-{b[-1][0]:.0f} s).")
    leaders = []
    for t in times:
        va, vb = at(a, t), at(b, t)
        leader = None if va == vb else (name_a if (va > vb) == greater_is_better else name_b)
        if leader and (not leaders or leaders[-1][1] != leader):
            leaders.append((t, leader))
    span = f"from {start:.0f} s to {end:.0f} s of training"
    if not leaders:
        return f"{name_a} and {name_b} have equal validation {metric} at every evaluation {span}."
    if len(leaders) == 1:
        return (f"{leaders[0][1]} has the better validation {metric} at every evaluation {span}, so that order "
                "holds for any budget in that range (on this machine; a faster one moves along the same curves).")
    changes = ", then ".join(f"{who} from {t:.0f} s" for t, who in leaders)
    return (f"The lead changes {span}: {changes}. A budget in seconds on another machine can land on either "
            "side: compare the curves, not one number.")
