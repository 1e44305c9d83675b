"""``python -m matcher keys``: create the deployment's master key, or rotate an index to a new one."""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import pyarrow.parquet as pq

from matcher.index import Index, rotate_index
from matcher.protection.keys import DEFAULT_KEY_FILE, KEY_FILE_ENVIRONMENT_VARIABLE, MasterKey, load_master_key


def add_parser(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="create or rotate the deployment's master key").add_subparsers(
        dest="keys_command", required=True
    )
    init = keys.add_parser(
        "init", help=f"create a master key (default: ${KEY_FILE_ENVIRONMENT_VARIABLE} or {DEFAULT_KEY_FILE})"
    )
    init.add_argument("--out", type=Path)
    init.add_argument("--if-missing", action="store_true", help="do nothing if the key file already exists")
    rotate = keys.add_parser(
        "rotate",
        help="re-key an index: tokens recomputed from the builder's population, payloads sealed again, under "
        "the new key; the current key (from the environment) must open the index first",
    )
    rotate.add_argument("--index", type=Path, required=True)
    rotate.add_argument("--population", type=Path, required=True, help="the population the index was built from")
    rotate.add_argument("--new-key", type=Path, required=True, help="key file made by `keys init --out`")


def run(args: argparse.Namespace) -> int:
    return _init(args) if args.keys_command == "init" else _rotate(args)


def _init(args: argparse.Namespace) -> int:
    path = (args.out or Path(os.environ.get(KEY_FILE_ENVIRONMENT_VARIABLE) or DEFAULT_KEY_FILE)).expanduser()
    if path.exists() and args.if_missing:
        print(f"master key {MasterKey.from_file(path).key_id} already at {path}")
        return 0
    key = MasterKey.generate()
    print(f"master key {key.key_id} written to {key.write(path)} (readable by you only; keep it out of git)")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    old_key, new_key = load_master_key(), MasterKey.from_file(args.new_key)
    if new_key.key_id == old_key.key_id:
        raise ValueError("the new key is the current key: make a new one with `keys init --out`")
    start = time.perf_counter()
    old = Index.load(args.index, old_key)
    rotated = rotate_index(old, pq.read_table(args.population), new_key)
    rotated.save(args.index)
    print(
        f"re-keyed {len(rotated):,} records from key {old_key.key_id} to {new_key.key_id} in "
        f"{time.perf_counter() - start:.1f} s; point the service at the new key, then destroy the old one"
    )
    return 0
