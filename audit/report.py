"""What a verification finds: every failure with its seq and code, and what is not a failure
but worth saying (entries not yet covered by a checkpoint, erased payloads, settlement)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Failure:
    """One thing wrong: ``seq`` of the entry (None if not about one entry), why, and the
    stable ``code`` of the rule (ledger.protocol.rules.Code and the codes of this package).

    A checkpoint failure has seq None and ``checkpoint`` = the checkpoint's tree size.
    """

    seq: int | None
    reason: str
    code: str = "entry"
    checkpoint: int | None = None

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"seq": self.seq, "code": self.code, "reason": self.reason}
        if self.checkpoint is not None:
            data["checkpoint"] = self.checkpoint
        return data

    def line(self) -> str:
        if self.seq is not None:
            return f"seq {self.seq}: {self.reason} [{self.code}]"
        if self.checkpoint is not None:
            return f"checkpoint {self.checkpoint}: {self.reason} [{self.code}]"
        return f"ledger: {self.reason} [{self.code}]"


@dataclass
class Report:
    """The outcome: ``ok`` when there is no failure at all.

    ``first``/``last`` are the seqs of the range, ``root`` the hex root recomputed over
    [0, last+1). ``uncovered`` is the range of the newest entries no checkpoint covers yet
    (a ledger that has not sealed them, not a failure; a bundle must have none).
    ``redacted`` maps the seq of each erased payload to the seq of the entry that erased it,
    ``erased_under`` to the legal basis that entry records.
    ``cosigned`` lists valid witness names per checkpoint size, ``settled`` (when k was
    given) says whether at least k witnesses cosigned it.
    """

    entries: int = 0
    checkpoints: int = 0
    failures: list[Failure] = field(default_factory=list)
    first: int | None = None
    last: int | None = None
    root: str | None = None
    uncovered: tuple[int, int] | None = None
    redacted: dict[int, int] = field(default_factory=dict)
    erased_under: dict[int, str] = field(default_factory=dict)
    cosigned: dict[int, list[str]] = field(default_factory=dict)
    settled: dict[int, bool] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def fail(self, seq: int | None, reason: str, code: str = "entry",
             checkpoint: int | None = None) -> None:
        self.failures.append(Failure(seq, reason, code, checkpoint))

    def erasures(self) -> list[str]:
        """One line per erased payload: its seq, the legal basis and the erasing entry."""
        return [f"seq {target}: payload erased under {self.erased_under.get(target, '?')}, "
                f"entry {by} (the entry itself verified)"
                for target, by in sorted(self.redacted.items())]

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "ok": self.ok,
            "entries": self.entries,
            "checkpoints": self.checkpoints,
            "failures": [failure.to_json() for failure in self.failures],
            "from": self.first,
            "to": self.last,
            "root": self.root,
            "uncovered": list(self.uncovered) if self.uncovered else None,
            "redacted": {str(seq): by for seq, by in sorted(self.redacted.items())},
            "erased_under": {str(seq): basis for seq, basis in sorted(self.erased_under.items())},
        }
        if self.settled:
            data["settled"] = {str(size): done for size, done in sorted(self.settled.items())}
        return data
