"""Verified results: a story linked to a campaign or programme shows its frozen result block."""
