"""`writing-rl index`: create, inspect and chart ``running_file/index_<experiment>.json``."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..curriculum.index_file import IndexFileError, create_index, sample_key
from ..curriculum.inspect import plot_history, summary
from ..data.schema import DataError
from .common import cannot_write, fail, print_json


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("index", help="create, show or plot a curriculum index file")
    isub = p.add_subparsers(dest="index_command", required=True, metavar="ACTION")

    c = isub.add_parser("create", help="write a fresh index (every sample at level 0)")
    add_create_args(c)
    c.set_defaults(func=run_create)

    s = isub.add_parser("show", help="level histogram and progress of an index file")
    s.add_argument("index_file")
    s.add_argument("--data", help="train.parquet or its folder, to count references per sample")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=run_show)

    pl = isub.add_parser("plot", help="draw the level distribution as a PNG")
    pl.add_argument("index_file")
    pl.add_argument("--history", action="store_true", help="levels over steps (the only chart for now)")
    pl.add_argument("--out", help="PNG path (default: <index>.history.png)")
    pl.set_defaults(func=run_plot)


def add_create_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--experiment", "--experiment_name", dest="experiment", required=True)
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--data_num", "--data-num", dest="data_num", type=int, help="number of samples (ids 0..N-1)")
    g.add_argument("--data", help="train.parquet (or its folder): ids are read from it")
    p.add_argument("--dir", default="running_file", help="where index files live (default: running_file)")
    p.add_argument("--force", action="store_true", help="overwrite an existing index file")


def _parquet(path: str) -> Path:
    p = Path(path)
    return p / "train.parquet" if p.is_dir() else p


def ids_from_data(path: str) -> list[str]:
    from ..data.check import load_ground_truths

    p = _parquet(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p} does not exist")
    return [sample_key(i) for i in load_ground_truths(p.parent, split=p.stem)]


def run_create(args: argparse.Namespace) -> int:
    try:
        if args.data_num is not None and args.data_num < 1:
            return fail("--data_num must be at least 1")
        ids = list(range(args.data_num)) if args.data_num is not None else ids_from_data(args.data)
        path = Path(args.dir) / f"index_{args.experiment}.json"
        create_index(path, ids, overwrite=args.force)
    except (IndexFileError, ValueError, DataError) as e:
        return fail(str(e))
    except OSError as e:
        if e.filename is None:  # ours: "already exists", "does not exist", with the fix in the message
            return fail(str(e))
        return fail(cannot_write(Path(args.dir) / f"index_{args.experiment}.json", e, "--dir"))
    print(f"wrote {path} with {len(ids)} samples at level 0")
    return 0


def run_show(args: argparse.Namespace) -> int:
    try:
        counts = None
        if args.data:
            from ..data.check import load_ground_truths

            p = _parquet(args.data)
            gts = load_ground_truths(p.parent, split=p.stem)
            counts = {sample_key(i): len(g["target"] or []) for i, g in gts.items()}  # lists, per the schema
        info = summary(args.index_file, counts)
    except (IndexFileError, FileNotFoundError, ValueError, DataError) as e:
        return fail(str(e))
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
    except (ValueError, FileNotFoundError) as e:
        return fail(str(e))
    except OSError as e:
        return fail(cannot_write(out, e, "--out"))
    print(f"wrote {path}")
    return 0
