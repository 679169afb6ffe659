"""Training: the one Accelerate loop (``loop``), recipes and their schema, the run's child process, resuming."""
