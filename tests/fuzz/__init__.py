"""graphcheck's own fuzz harness: hostile and odd models, each run in a subprocess with a time and
memory bound (see README, "Budgets and bounds", and ``bench/fuzz.py`` for the long run)."""
