"""``uiflow bench``: scenario implementations.

Each scenario starts what it needs (see :mod:`cli.bench.stack`), measures, and returns a plain
JSON-ready dict; :mod:`cli.bench_cmd` prints it as a table and writes it to a file. Nothing in the
product imports this package: it sits on top, like the rest of ``cli/``."""
