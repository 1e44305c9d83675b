"""``python -m api serve`` with the register's head file switched off, to measure what the checkpoint costs
(``benchmarks/api_load.py --head-file-cost``). Never a way to serve: the register could then shrink unseen.

    python benchmarks/serve_without_head.py   # the environment as for python -m api serve
"""

from __future__ import annotations

import sys

import api.wiring
from api.audit.register import AuditRegister
from api.cli import main


def _without_head(settings, engine, key) -> AuditRegister:
    return AuditRegister(engine, key)  # no head file: nothing written, nothing compared


api.wiring.open_register = _without_head

if __name__ == "__main__":
    sys.exit(main(["serve"]))
