"""Reports: the comparison's report (``markdown``), the verdict, the README's generated blocks (``results``), plots, performance pages and model cards."""
