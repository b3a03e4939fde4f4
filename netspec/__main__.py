"""`python -m netspec`: the `netspec` command."""

from ._cli import main

raise SystemExit(main())
