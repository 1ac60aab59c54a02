"""What a chaos run found: its table (``python -m tests.chaos`` prints it)."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field

from tests.chaos.faults import FAULTS


@dataclass
class Report:
    faults: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[str] = field(default_factory=Counter)
    hung: int = 0
    hung_steps: Counter[str] = field(default_factory=Counter)  # "<operation> at <step>"
    mismatches: int = 0
    failures: list[str] = field(default_factory=list)
    recovery: list[float] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    by_fault: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)  # why each failed operation failed
    retention_deletes: int = 0  # checkpoints the suite's retention deleted
    dead_letters_taken: int = 0  # of requests the suite saw refused

    def count_hung(self, trial: int, fault: str | None, what: str, step: str) -> None:
        """``what`` (an operation, or a check) did not get past ``step`` in its bound."""
        self.hung += 1
        self.hung_steps[f"{what} at {step}"] += 1
        self.failures.append(f"trial {trial}: {what} hung at {step} ({fault or 'no fault'})")

    def table(self) -> str:
        lines = ["fault        trials", "-------------------"]
        lines += [f"{kind:<12} {self.faults[kind]:>6}" for kind in FAULTS]
        lines += ["", "operation outcome          count", "-------------------------------"]
        lines += [f"{name:<26} {count:>5}" for name, count in sorted(self.outcomes.items())]
        lines += ["", "fault: operation outcome (the faulted operation) count",
                  "------------------------------------------------------"]
        lines += [f"{name:<40} {count:>5}" for name, count in sorted(self.by_fault.items())
                  if not name.startswith("none")]
        median = statistics.median(self.recovery) if self.recovery else 0.0
        worst = max(self.recovery, default=0.0)
        lines += ["", f"hung operations            {self.hung:>5}"]  # then at which step
        lines += [f"  {name:<33} {count:>5}" for name, count in sorted(self.hung_steps.items())]
        lines += [f"data mismatches            {self.mismatches:>5}",
                  f"failed checks              {len(self.failures):>5}",
                  f"fault to recovery (s)      median {median:.1f}, worst {worst:.1f}",
                  f"deleted by retention       {self.retention_deletes:>5}",
                  f"refused, dead-lettered     {self.dead_letters_taken:>5}"]
        if self.skipped:
            lines.append(f"faults not available here: {dict(self.skipped)}")
        return "\n".join(lines)
