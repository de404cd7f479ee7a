"""Benchmark reporting shared by the bench scripts: figures with targets, PASS/FAIL lines and a summary."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

WHOLE_UNITS = frozenset({"", "days", "series", "cells", "coins", "req/s", "clients"})
DIGITS = {"s": 3, "ms": 2, "MiB": 0, "×": 1, "%": 1}


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure; ``limit`` None means information only."""

    name: str
    value: float
    unit: str
    limit: float | None = None
    at_least: bool = False
    ratio: str = ""

    @property
    def status(self) -> str:
        if self.limit is None:
            return "INFO"
        if math.isnan(self.value):
            return "FAIL"
        ok = self.value >= self.limit if self.at_least else self.value <= self.limit
        return "PASS" if ok else "FAIL"

    @property
    def measured(self) -> str:
        return f"{_number(self.value, self.unit)} {self.unit}".rstrip()

    @property
    def target(self) -> str:
        if self.limit is None:
            return "-"
        return f"{'≥' if self.at_least else '≤'} {_number(self.limit, self.unit)} {self.unit}".rstrip()


def _number(value: float, unit: str) -> str:
    if math.isnan(value):
        return "n/a"
    if unit in WHOLE_UNITS:
        return f"{value:,.0f}"
    return f"{value:,.{DIGITS.get(unit, 3)}f}"


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)

    def add(self, figure: Figure) -> None:
        self.figures.append(figure)
        ratio = f"  [{figure.ratio}]" if figure.ratio else ""
        print(f"  {figure.status:4}  {figure.name}: {figure.measured} (target {figure.target}){ratio}", flush=True)

    def note(self, text: str) -> None:
        print(f"        {text}", flush=True)

    @property
    def failed(self) -> bool:
        return any(f.status == "FAIL" for f in self.figures)

    def summary(self) -> None:
        rows = [("figure", "measured", "target", "ratio", "status")]
        rows += [(f.name, f.measured, f.target, f.ratio or "-", f.status) for f in self.figures]
        widths = [max(len(r[i]) for r in rows) for i in range(5)]
        line = "-+-".join("-" * w for w in widths)
        print("\nSummary")
        for i, row in enumerate(rows):
            print(" | ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
            if i == 0:
                print(line)
        print(f"\n{'FAIL: a target was missed' if self.failed else 'PASS: every target met'}")


def section(title: str) -> None:
    print(f"\n== {title}", flush=True)
