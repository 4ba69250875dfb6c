"""Placeholder (owner: sessions helper)."""
