"""Write netspec/_torch_signatures.py, the snapshot of the torch signatures the op catalog uses.

The catalog reads each `torch.nn` class's keyword arguments, defaults and docstring from that
snapshot, so that validating a spec never imports torch. Run `python tools/gen_signatures.py`
after adding a built-in op or upgrading torch; `python tools/gen_signatures.py --check` exits 1
and lists the stale classes when the snapshot differs from the installed torch (as
`tests/test_signatures.py` does).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "netspec" / "_torch_signatures.py"


def read_live() -> tuple[dict, frozenset[str], str]:
    """Build the built-in catalog reading every class from torch: (signatures, Module attributes, version)."""
    import torch

    from netspec import _ops, _signatures

    with _signatures.reading_torch() as recorded:
        _ops.builtin_list()
        attributes = _signatures.module_attributes()
    return dict(recorded), attributes, torch.__version__.split("+")[0]


def render() -> str:
    from netspec._signatures import render_snapshot

    signatures, attributes, version = read_live()
    return render_snapshot(signatures, attributes, version)


def main(argv: list[str]) -> int:
    if "--check" in argv:
        from netspec._signatures import GENERATOR, compare

        signatures, _, _ = read_live()
        problems = compare(signatures)
        if problems:
            print("the signature snapshot is stale:\n  " + "\n  ".join(problems) + f"\nrun `{GENERATOR}`")
            return 1
        return 0
    TARGET.write_text(render(), encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
