"""Write docs/netspec.schema.json, the JSON Schema of the spec language, from the models and the
built-in op catalog (`netspec schema` adds the ops of installed plugins).

Run `python tools/gen_schema.py` after changing the models in `netspec/_models.py`, `netspec/_schema.py` or the ops;
`python tools/gen_schema.py --check` exits 1 when the file is out of date.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from netspec import json_schema

TARGET = Path(__file__).resolve().parents[1] / "docs" / "netspec.schema.json"
COMMAND = "python tools/gen_schema.py"


def render() -> str:
    """The schema as the file holds it: keys in generated order, two-space indent."""
    return json.dumps(json_schema(registered=False), indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str]) -> int:
    text = render()
    if "--check" in argv:
        current = TARGET.read_text(encoding="utf-8") if TARGET.is_file() else ""
        if current != text:
            print(f"{TARGET} is out of date: run `{COMMAND}`")
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
