"""Placeholder (owner: checkin): segment fields of the add-on."""


def segment_fields() -> list:
    return []
