"""Runs: a run folder (``run``), its files and checks (``folder``), its metrics and schema, its predictions."""
