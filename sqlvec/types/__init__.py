"""SQL types: each defined once (see base.py for the Python value of every type)."""
