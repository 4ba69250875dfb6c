"""Measurement: power check at approval, holdout lift with its interval, group-level difference-in-differences, interim and final frozen results."""
