"""``python -m matcher explain``: one request's top candidates, with each comparison's level and weight."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from matcher.contract.request import REQUEST_FIELDS
from matcher.index import Index
from matcher.protection.keys import load_master_key
from matcher.reports.explain import explanation_text, waterfall_png
from matcher.tracer import Tracer


def add_parser(commands: argparse._SubParsersAction) -> None:
    explain = commands.add_parser("explain", help="top candidates of one request, with each comparison's weight")
    explain.add_argument("--index", type=Path, required=True)
    explain.add_argument("--request", required=True, help="JSON object, or @file.json")
    explain.add_argument("--png", type=Path, help="write a waterfall chart of the best candidate here")


def run(args: argparse.Namespace) -> int:
    request = _request(args.request)
    tracer = Tracer(Index.load(args.index, load_master_key()))
    result = tracer.trace(request)
    print(explanation_text(result, tracer.model.prior_log2_odds))
    if args.png and result.explanation:
        print(f"waterfall: {waterfall_png(result.explanation[0], tracer.model.prior_log2_odds, args.png)}")
    return 0


def _request(argument: str) -> dict:
    """The --request argument as a request, or ValueError saying what is wrong with it."""
    text = Path(argument[1:]).read_text() if argument.startswith("@") else argument
    try:
        request = json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"--request is not valid JSON: {error.msg} at position {error.pos}") from None
    if not isinstance(request, dict):
        raise ValueError("--request must be a JSON object")
    unknown = sorted(set(request) - set(REQUEST_FIELDS) - {"request_id"})
    if unknown:
        raise ValueError(f"unknown request fields {unknown}; expected some of {list(REQUEST_FIELDS)}")
    for required in ("family_name", "date_of_birth"):
        if not request.get(required):
            raise ValueError(f"--request needs {required}")
    return request
