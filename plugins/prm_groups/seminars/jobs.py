"""Placeholder (owner: seminars): periodic jobs."""

JOBS: list = []
