"""What the benchmarks share: samples and their summary, paired ratios, forking, and the printed table."""

from __future__ import annotations

import json
import os
import statistics
import sys
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

#: Prefix of the one stdout line a worker subprocess answers with (Airflow may log to stdout too).
RESULT_MARKER = "@@BENCH-RESULT@@ "


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """25th, 50th and 75th percentile (the median of one value is itself)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


@dataclass
class Row:
    """One line of the table: ``ours`` against ``peer`` (seconds per operation), paired by round."""

    section: str
    name: str
    ours: list[float]
    peer: list[float]
    peer_name: str
    unit: str = "ms"  #: "ms" or "µs": how the seconds are shown
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """Median of ours over median of the peer: above 1, ours takes longer."""
        return statistics.median(self.ours) / statistics.median(self.peer)

    @property
    def round_ratios(self) -> list[float]:
        """Ratios of the rounds that ran back to back (ours and the peer interleaved)."""
        return [ours / peer for ours, peer in zip(self.ours, self.peer, strict=False) if peer > 0]


def fmt_time(seconds: float, unit: str) -> str:
    scale = 1e3 if unit == "ms" else 1e6
    value = seconds * scale
    digits = 2 if value < 10 else 1 if value < 100 else 0
    return f"{value:.{digits}f} {unit}"


def fmt_sample(values: Sequence[float], unit: str) -> str:
    """``median ±spread%``: the spread is half the interquartile range, relative to the median."""
    q1, median, q3 = quartiles(values)
    spread = (q3 - q1) / 2 / median * 100 if median else 0.0
    return f"{fmt_time(median, unit)} ±{spread:.0f}%"


def fmt_ratio(row: Row) -> str:
    digits = 2 if row.ratio >= 0.1 else 3
    ratios = row.round_ratios
    if len(ratios) < 2:
        return f"{row.ratio:.{digits}f}x"
    low, _, high = quartiles(ratios)
    return f"{row.ratio:.{digits}f}x ({low:.{digits}f}-{high:.{digits}f})"


def print_grid(
    section: str, headers: Sequence[str], cells: Sequence[Sequence[str]], notes: Sequence[tuple[str, str]]
) -> None:
    """A titled table with aligned columns, then its notes (``(row name, note)``)."""
    widths = [max(len(line[i]) for line in [headers, *cells]) for i in range(len(headers))]
    print(f"\n== {section}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip())
    print("  ".join("-" * w for w in widths))
    for cell_line in cells:
        print("  ".join(c.ljust(w) for c, w in zip(cell_line, widths, strict=True)).rstrip())
    for name, note in notes:
        print(f"  note ({name}): {note}")


def print_table(rows: Sequence[Row], context: Sequence[str], findings: Sequence[str]) -> None:
    """The results: one table per section, then context lines, the legend and findings."""
    headers = ("benchmark", "ours", "peer", "ratio ours/peer (IQR)", "n", "peer is")
    sections: dict[str, list[Row]] = {}
    for row in rows:
        sections.setdefault(row.section, []).append(row)
    for section, section_rows in sections.items():
        cells = [
            (
                row.name,
                fmt_sample(row.ours, row.unit),
                fmt_sample(row.peer, row.unit),
                fmt_ratio(row),
                str(min(len(row.ours), len(row.peer))),
                row.peer_name,
            )
            for row in section_rows
        ]
        print_grid(section, headers, cells, [(row.name, note) for row in section_rows for note in row.notes])
    print(
        "\nHow to read: ours/peer are medians (±half the interquartile range, in % of the median) over n "
        "rounds;\nratio = median(ours) / median(peer), with the interquartile range of the per-round "
        "ratios of\nrounds run back to back. 1.00x = same cost; 1.50x = ours takes 50% longer; "
        "0.80x = ours takes 20% less."
    )
    if context:
        print("\nContext:")
        for line in context:
            print(f"  - {line}")
    if findings:
        print("\nFindings:")
        for line in findings:
            print(f"  - {line}")


def run_forked(func: Callable[..., Any], *args: Any, quiet: bool = True) -> Any:
    """Run ``func(*args)`` in a forked child and return its JSON-able result (the child's exception
    becomes a ``RuntimeError`` here). The child starts with the parent's modules, as Airflow's DAG
    processor forks its parsing processes from a warm parent."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # child
        os.close(read_fd)
        try:
            if quiet:  # Airflow logs to stdout/stderr; the parent answers on stdout
                devnull = os.open(os.devnull, os.O_WRONLY)
                os.dup2(devnull, 1)
                os.dup2(devnull, 2)
            try:
                payload = {"ok": func(*args)}
            except BaseException:
                payload = {"error": traceback.format_exc()}
            with os.fdopen(write_fd, "w") as pipe:
                json.dump(payload, pipe)
        finally:
            os._exit(0)
    os.close(write_fd)
    with os.fdopen(read_fd) as pipe:
        text = pipe.read()
    os.waitpid(pid, 0)
    if not text:
        raise RuntimeError(f"forked child for {getattr(func, '__name__', func)} died without an answer")
    answer = json.loads(text)
    if "error" in answer:
        raise RuntimeError(f"forked child failed:\n{answer['error']}")
    return answer["ok"]


def emit_result(result: Any) -> None:
    """A worker's answer: one marked JSON line on stdout."""
    sys.stdout.write(RESULT_MARKER + json.dumps(result) + "\n")
    sys.stdout.flush()


def read_result(stdout: str) -> Any:
    """The marked JSON line of a worker's stdout."""
    for line in stdout.splitlines():
        if line.startswith(RESULT_MARKER):
            return json.loads(line[len(RESULT_MARKER) :])
    raise RuntimeError("the worker printed no result line")
