"""`python -m broker.runtime.child PARENT ARGS...`: one serving process of `python -m broker -workers N`.

It reads the same flags and environment as the broker, binds the port with SO_REUSEPORT beside
its siblings and stops when its supervisor (process PARENT) is gone.
"""

from __future__ import annotations

import sys

from broker.config import load_config
from broker.logs import configure
from broker.runtime.cli import run


def main() -> None:
    parent, argv = int(sys.argv[1]), sys.argv[2:]
    config = load_config(argv)
    configure(config.logLevel, pid=True)
    run(config, parent=parent)


if __name__ == "__main__":
    main()
