"""Reuse this campaign: a draft in the reusers own unit through cem_channels hookspec."""
