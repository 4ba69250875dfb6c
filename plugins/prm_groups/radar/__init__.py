"""Weak-category radar: per group and category, the share of active customers buying in the category against all other groups, with exact binomial control limits."""
