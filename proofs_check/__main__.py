"""``python -m proofs_check``: see :mod:`proofs_check.cli`."""

from .cli import main

raise SystemExit(main())
