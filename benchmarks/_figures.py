"""Figures that are not one time per operation (memory, sockets, stalls, counts), with their goals.

A :class:`Figure` holds our samples and those of the peers measured in the same run; the table shows
medians, the ratio against each peer, the goal from issue 12 and whether it is met.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from benchmarks._common import print_grid, quartiles


@dataclass(frozen=True)
class Goal:
    """``ours <= limit`` (``peer`` is ``None``), or ``ours <= limit x`` that peer's median."""

    text: str
    limit: float
    peer: str | None = None

    def met(self, ours: float, peers: Mapping[str, float]) -> bool | None:
        """Whether the goal is met; ``None`` when its peer was not measured."""
        if self.peer is None:
            return ours <= self.limit
        if self.peer not in peers:
            return None
        return ours <= self.limit * peers[self.peer]


@dataclass
class Figure:
    """One line of a section's table: our samples, the peers' samples (by peer name), the goal."""

    section: str
    name: str
    unit: str  #: printed after the number ("KB", "s", "ms", "req/s", "" for a count)
    ours: list[float]
    peers: dict[str, list[float]] = field(default_factory=dict)
    goal: Goal | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.ours)

    def peer_medians(self) -> dict[str, float]:
        return {name: statistics.median(values) for name, values in self.peers.items() if values}

    def verdict(self) -> bool | None:
        return None if self.goal is None else self.goal.met(self.median, self.peer_medians())


def fmt_number(value: float, unit: str) -> str:
    if value != value:  # NaN: nothing was measured
        return "-"
    if value == float("inf"):  # e.g. a waiter that never noticed
        return "never"
    magnitude = abs(value)
    digits = 0 if magnitude >= 100 or float(value).is_integer() else 1 if magnitude >= 10 else 2
    if magnitude and magnitude < 0.01:
        digits = 4
    text = f"{value:,.{digits}f}"
    return f"{text} {unit}" if unit else text


def fmt_figure(values: Sequence[float], unit: str) -> str:
    """The median, with ``±`` half the interquartile range (in % of the median) when repeated."""
    if not values:
        return "-"
    q1, median, q3 = quartiles(values)
    text = fmt_number(median, unit)
    if len(values) > 1 and median:
        text += f" ±{(q3 - q1) / 2 / abs(median) * 100:.0f}%"
    return text


def fmt_ratio(ours: float, peer: float) -> str:
    if not peer or ours != ours or peer != peer or float("inf") in (ours, peer):
        return "-"
    ratio = ours / peer
    return f"{ratio:.2f}x" if ratio >= 0.1 else f"{ratio:.3f}x"


def verdict_text(figure: Figure) -> str:
    verdict = figure.verdict()
    return "" if figure.goal is None else "n/a" if verdict is None else "met" if verdict else "MISSED"


def print_figures(figures: Sequence[Figure]) -> None:
    """One table per section: figure, ours, then each peer with ``ours/peer``, the goal and its verdict."""
    sections: dict[str, list[Figure]] = {}
    for figure in figures:
        sections.setdefault(figure.section, []).append(figure)
    for section, members in sections.items():
        peer_names = list(dict.fromkeys(name for figure in members for name in figure.peers))
        headers = ["figure", "ours"]
        for name in peer_names:
            headers += [name, f"ours/{name.split(' ')[0]}"]
        headers += ["goal", "met?"]
        lines = []
        for figure in members:
            medians = figure.peer_medians()
            cells = [figure.name, fmt_figure(figure.ours, figure.unit)]
            for name in peer_names:
                values = figure.peers.get(name, [])
                cells += [fmt_figure(values, figure.unit), fmt_ratio(figure.median, medians.get(name, 0.0))]
            cells += [figure.goal.text if figure.goal else "", verdict_text(figure)]
            lines.append(cells)
        print_grid(
            section, headers, lines, [(figure.name, note) for figure in members for note in figure.notes]
        )


def goal_summary(figures: Sequence[Figure]) -> list[str]:
    """One line per figure with a goal: the figure, the peer ratio it is judged by, met or missed."""
    lines = []
    for figure in figures:
        if figure.goal is None:
            continue
        medians = figure.peer_medians()
        peer = figure.goal.peer
        against = ""
        if peer is not None and peer in medians:
            against = f" = {fmt_ratio(figure.median, medians[peer])} {peer}"
        lines.append(
            f"{verdict_text(figure)}: {figure.section.split('.')[0]}. {figure.name}: "
            f"{fmt_number(figure.median, figure.unit)}{against} (goal: {figure.goal.text})"
        )
    return lines


def print_lines(title: str, lines: Sequence[str]) -> None:
    """A titled list (nothing when empty)."""
    if lines:
        print(f"\n{title}:")
        for line in lines:
            print(f"  - {line}")
