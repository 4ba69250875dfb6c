"""Placeholder (owner: seminars): merge, export and erasure of a customer's invitations."""


def on_customers_merged(survivor, merged_id):
    return None


def export_customer(customer):
    return None


def erase_customer(customer):
    return None
