"""Shared helpers of the security tests: the malicious corpus, the side-effect marker, located errors."""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from netspec import SpecError

CORPUS = Path(__file__).parent / "corpus"
CORPUS_FILES = sorted(p for p in CORPUS.iterdir() if p.suffix in (".yaml", ".json", ".txt"))
# Payloads in the corpus try to create this file; no test may ever find it.
PWNED = Path("/tmp/netspec-security-pwned")

HEADER = "netspec: 1\nname: hostile\ninputs: {x: [N, 3, 8, 8]}\n"


def spec_with_nodes(body: str) -> str:
    """A small spec whose `nodes:` mapping is `body` (already indented by two spaces)."""
    return HEADER + "nodes:\n" + body


def located_error(run: Callable[[], Any]) -> SpecError:
    """Run `run`, which must raise a `SpecError` whose every error has a line and a column."""
    with pytest.raises(SpecError) as caught:
        run()
    err = caught.value
    assert err.errors, err.diagnostics
    for diagnostic in err.errors:
        assert diagnostic.line is not None and diagnostic.column is not None, diagnostic
    return err


def peak_memory(run: Callable[[], Any]) -> int:
    """Peak bytes Python allocated while running `run` (exceptions are swallowed)."""
    tracemalloc.start()
    try:
        run()
    except Exception:
        pass
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return peak
