"""The offline assets: the built-in model and data (``cache``) and ``hf-rnn fetch`` (``fetching``)."""
