"""Discord features, one package each; ``__init__`` holds only ``setup``. Private modules start with ``_``."""
