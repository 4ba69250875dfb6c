"""Experiments: seeded holdouts among contactable customers, outcomes from sale lines, lift with intervals."""
