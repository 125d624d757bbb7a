"""Dynamic Reference Scheduling: per-sample reference levels, their single owner, checkpoints."""
