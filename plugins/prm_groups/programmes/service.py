"""Placeholder (owner: programmes)."""


def on_workflow_transitioned(obj, transition, actor, comment):
    return None
