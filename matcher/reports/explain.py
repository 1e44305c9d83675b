"""Explanations of a trace for audit and review: per candidate, each comparison's level and weight.

Text for the terminal and a waterfall chart in the spirit of Splink's: the prior, then each comparison's weight
added in turn, ending at the candidate's match weight. Never shown to a requester.
"""

from __future__ import annotations

from pathlib import Path

from matcher.tracer import CandidateExplanation, TraceResult


def explanation_text(result: TraceResult, prior_log2_odds: float) -> str:
    lines = [
        f"outcome {result.outcome.value}  probability {result.probability:.6f}  candidates scored {result.candidates}"
    ]
    for rank, candidate in enumerate(result.explanation, start=1):
        eligible = "" if candidate.eligible else "  (fails a decision requirement)"
        lines.append(f"#{rank} record {candidate.record}  match weight {candidate.match_weight:+.2f} bits{eligible}")
        lines.append(f"    {'prior':<15} {'':<22} {prior_log2_odds:+7.2f}")
        for c in candidate.comparisons:
            lines.append(f"    {c.comparison:<15} {c.level:<22} {c.weight:+7.2f}")
    return "\n".join(lines)


def waterfall_png(candidate: CandidateExplanation, prior_log2_odds: float, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = ["prior"] + [f"{c.comparison}\n{c.level}" for c in candidate.comparisons] + ["match weight"]
    steps = [prior_log2_odds] + [c.weight for c in candidate.comparisons]
    figure, axis = plt.subplots(figsize=(9, 4))
    running = 0.0
    for i, step in enumerate(steps):
        axis.bar(i, step, bottom=running, color="tab:green" if step >= 0 else "tab:red")
        axis.text(i, running + step, f"{step:+.1f}", ha="center", va="bottom" if step >= 0 else "top", fontsize=8)
        running += step
    axis.bar(len(steps), running, color="tab:blue")
    axis.text(len(steps), running, f"{running:+.1f}", ha="center", va="bottom", fontsize=8)
    axis.axhline(0, color="black", linewidth=0.8)
    axis.set_xticks(range(len(labels)), labels, fontsize=7)
    axis.set_ylabel("log2 odds (bits)")
    axis.set_title(f"record {candidate.record}")
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
