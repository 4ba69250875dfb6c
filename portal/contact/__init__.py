"""Channels, consent and contact history: may_contact, record_consent, record_contact."""
