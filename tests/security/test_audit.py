"""No code runs, no module is imported, no file outside the tree is opened while validating the corpus."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from hostile import CORPUS, PWNED


def test_corpus_validation_raises_no_forbidden_audit_event() -> None:
    # An audit hook cannot be removed: it runs in a child process, gated there by a flag.
    PWNED.unlink(missing_ok=True)
    script = Path(__file__).parent / "audit_corpus.py"
    result = subprocess.run(
        [sys.executable, str(script), str(CORPUS)], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    events = json.loads(result.stdout.strip().splitlines()[-1])
    assert events == [], events
    assert not PWNED.exists()
