#!/usr/bin/env python3
"""Create running_file/index_<experiment>.json (every sample at level 0); never overwrites without --force.

    python scripts/create_index_file.py --experiment my_run --data data/sample/train.parquet
    python scripts/create_index_file.py --experiment my_run --data-num 1000    # --data_num is an alias

The same command as `writing-rl index create` (same options, errors and exit codes).
"""

import sys

from writing_rl.cli.main import main

if __name__ == "__main__":
    sys.exit(main(["index", "create", *sys.argv[1:]]))
