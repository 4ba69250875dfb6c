"""Placeholder (owner: partner): dashboard portlets and the partner-group tab."""


def portlets(manager, user):
    return []


def group_tabs(group, user):
    return []
