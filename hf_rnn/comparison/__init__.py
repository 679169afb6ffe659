"""The comparison: training every model under one budget (``compare``), its typed results (``schema``), profiles, seeds, paired tests, curves, references and goals."""
