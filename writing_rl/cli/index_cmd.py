"""`writing-rl index`: create, inspect and chart ``running_file/index_<experiment>.json``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..curriculum.index_file import create_index, sample_key
from ..curriculum.inspect import plot_history, summary
from ..data.read import load_ground_truths
from .common import CliError, add_progress_option, cannot_write, fail, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="create, show or plot a curriculum index file")
    isub = p.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    c = isub.add_parser("create", help="write a fresh index (every sample at level 0)")
    add_create_args(c)

    s = isub.add_parser("show", help="level histogram and progress of an index file")
    s.add_argument("index_file")
    s.add_argument("--data", help="train.parquet or its folder, to count references per sample")
    s.add_argument("--json", action="store_true")
    add_progress_option(s, shows_progress=False)
    s.set_defaults(func=run_show)

    pl = isub.add_parser("plot", help="draw the level distribution as a PNG")
    pl.add_argument("index_file")
    pl.add_argument("--history", action="store_true", help="levels over steps (the only chart for now)")
    pl.add_argument("--out", help="PNG path (default: <index>.history.png)")
    pl.add_argument("--json", action="store_true", help="print what was written as one JSON object")
    add_progress_option(pl, shows_progress=False)
    pl.set_defaults(func=run_plot)


def add_create_args(p: argparse.ArgumentParser) -> None:
    """The options of `index create` (scripts/create_index_file.py runs the same command)."""
    p.add_argument("--experiment", "--experiment_name", dest="experiment", required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--data-num", "--data_num", dest="data_num", type=int,
                   help="number of samples (ids 0..N-1); --data_num is an alias")
    g.add_argument("--data", help="train.parquet (or its folder): ids are read from it")
    p.add_argument("--dir", default="running_file", help="where index files live (default: running_file)")
    p.add_argument("--force", action="store_true", help="overwrite an existing index file")
    p.add_argument("--json", action="store_true", help="print what was written as one JSON object")
    add_progress_option(p, shows_progress=False)
    p.set_defaults(func=run_create)


def _parquet(path: str) -> Path:
    p = Path(path)
    return p / "train.parquet" if p.is_dir() else p


def ids_from_data(path: str) -> list[str]:
    p = _parquet(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p} does not exist")
    return [sample_key(i) for i in load_ground_truths(p.parent, split=p.stem)]


def run_create(args: argparse.Namespace) -> int:
    if args.data_num is not None and args.data_num < 1:
        raise CliError("--data-num must be at least 1")
    ids = list(range(args.data_num)) if args.data_num is not None else ids_from_data(args.data)
    path = Path(args.dir) / f"index_{args.experiment}.json"
    existed = path.exists()
    try:
        create_index(path, ids, overwrite=args.force)
    except OSError as e:
        if e.filename is None:  # ours: "already exists", with the fix in the message
            return fail(str(e))
        return fail(cannot_write(path, e, "--dir"))
    if args.json:
        print_json({"index_file": str(path), "samples": len(ids), "level": 0, "overwrote": existed})
    else:
        print(f"wrote {path} with {len(ids)} samples at level 0")
    return 0


def run_show(args: argparse.Namespace) -> int:
    counts = None
    if args.data:
        p = _parquet(args.data)
        gts = load_ground_truths(p.parent, split=p.stem)
        counts = {sample_key(i): len(g["target"] or []) for i, g in gts.items()}  # lists, per the schema
    info = summary(args.index_file, counts)
    if args.json:
        print_json(info)
        return 0
    print(f"{info['index_file']}: {info['samples']} samples"
          + (f", last finished step {info['step']}" if info["step"] is not None else ""))
    print(f"mean level {info['level_mean']:.2f}, max level {info['level_max']}")
    if info["at_last_level_share"] is not None:
        print(f"at their last reference: {info['at_last_level']} ({info['at_last_level_share']:.1%} of "
              f"{info['reference_counts_known_for']} with known reference counts)")
    else:
        print("at their last reference: unknown (pass --data train.parquet, or wait for the first step)")
    total = max(1, info["samples"])
    width = max(len(k) for k in info["histogram"]) if info["histogram"] else 1
    print("level  samples  share")
    for level, n in info["histogram"].items():
        bar = "#" * max(1, round(40 * n / total)) if n else ""
        print(f"{level:>{max(5, width)}}  {n:>7}  {n / total:6.1%} {bar}")
    return 0


def run_plot(args: argparse.Namespace) -> int:
    out = args.out or str(Path(args.index_file).with_suffix(".history.png"))
    try:
        path = plot_history(args.index_file, out)
    except (ValueError, FileNotFoundError) as e:  # no history yet, no index file: the message says which
        return fail(str(e))
    except OSError as e:
        return fail(cannot_write(out, e, "--out"))
    if args.json:
        print_json({"chart": str(path), "index_file": str(args.index_file)})
    else:
        print(f"wrote {path}")
    return 0
