"""Placeholder: demo data (``portal_seed``)."""


def seed(profile):
    return None
