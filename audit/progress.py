"""A tqdm progress bar on a terminal, nothing when piped or asked for JSON."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from tqdm import tqdm


@contextlib.contextmanager
def progress_bar(show: bool, label: str, total: int | None = None) -> Iterator[
    tuple[Callable[[int], None] | None, int | None]
]:
    if not show:
        yield None, total
        return
    with tqdm(total=total, desc=label, unit="entry", unit_scale=True) as bar:
        yield bar.update, total
