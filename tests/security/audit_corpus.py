"""Validate the malicious corpus under an audit hook and print every event that should not happen.

Run as a script (`python audit_corpus.py CORPUS_DIR`) so that the hook, which cannot be removed,
lives only in that process. Prints one JSON list of offending events; empty means clean.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import netspec
from netspec import _source

FORBIDDEN_PREFIXES = ("exec", "compile", "subprocess.", "os.system", "os.exec", "os.spawn", "os.posix_spawn", "socket.", "ctypes.", "pty.", "shutil.", "os.remove", "os.rename", "os.chmod", "os.mkdir", "urllib.", "http.", "webbrowser.")  # fmt: skip


def run_corpus(files: list[Path]) -> None:
    for path in files:
        try:
            netspec.validate(netspec.load(path))
        except netspec.SpecError:
            pass
        try:
            netspec.loads(path.read_bytes())
        except netspec.SpecError:
            pass


def main() -> None:
    corpus = Path(sys.argv[1]).resolve()
    allowed = (str(corpus), str(_source._specs_root().resolve()))
    files = sorted(p for p in corpus.iterdir() if p.suffix in (".yaml", ".json", ".txt"))
    run_corpus(files)  # first pass: every lazily imported module and cached validator is loaded now
    modules = set(sys.modules)
    events: list[str] = []
    armed = [True]

    def hook(event: str, args: tuple) -> None:
        if not armed[0]:
            return
        if event == "import" and args[0] not in modules:
            events.append(f"import {args[0]}")
        elif event == "open":
            target = args[0]
            if isinstance(target, int):
                return
            resolved = os.path.realpath(os.fsdecode(target))
            if not resolved.startswith(allowed):
                events.append(f"open {resolved}")
        elif event.startswith(FORBIDDEN_PREFIXES):
            events.append(f"{event} {str(args)[:80]}")

    sys.addaudithook(hook)
    run_corpus(files)
    armed[0] = False
    print(json.dumps(events))


if __name__ == "__main__":
    main()
