"""Training data: build train/test parquet files from JSONL, and check a built data directory."""

from .build import build_dataset, load_input_rows
from .check import Problem, check_dataset, load_ground_truths
from .schema import SCHEMA, DataError, GroundTruth, GroundTruthError

__all__ = ["SCHEMA", "DataError", "GroundTruth", "GroundTruthError", "Problem", "build_dataset", "check_dataset",
           "load_ground_truths", "load_input_rows"]
