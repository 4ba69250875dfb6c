"""Placeholder (owner: social helper)."""
