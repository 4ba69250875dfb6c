"""Notifications: in-app inbox, e-mail by preference, daily digest, de-duplication."""
