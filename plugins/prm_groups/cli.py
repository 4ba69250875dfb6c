"""Placeholder: the add-on's CLI commands (``flask prm …``)."""


def register(cli):
    return None
