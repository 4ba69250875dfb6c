"""Placeholder (owner: programmes): periodic jobs."""

JOBS: list = []
