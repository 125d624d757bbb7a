#!/usr/bin/env python3
"""Create running_file/index_<experiment>.json (every sample at level 0); never overwrites without --force.

    python scripts/create_index_file.py --experiment my_run --data data/sample/train.parquet
    python scripts/create_index_file.py --experiment my_run --data_num 1000
"""

import argparse
import sys

from writing_rl.cli.index_cmd import add_create_args, run_create

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_create_args(parser)
    sys.exit(run_create(parser.parse_args()))
