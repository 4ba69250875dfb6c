"""Periodic jobs of the social area: the digest of followed tags (08:30 Seoul; with the setting
``digest = weekly`` it sends on Mondays only) and the freshness notices (08:40 Seoul). Both are
idempotent — the digest is de-duplicated per user and Korean day, a notice per story and due
date — so a retry or a second consumer sends nothing twice."""

from __future__ import annotations

from typing import Any


def digest_job() -> dict[str, int]:
    """Every follower's digest; commits per follower."""
    from .service import send_digests

    return send_digests()


def needs_review_job() -> int:
    """Tell authors of stories whose review is due; commits per batch."""
    from .service import notify_needs_review

    return notify_needs_review()


JOBS: list[dict[str, Any]] = [
    {"name": "ks.social.digest", "func": digest_job, "schedule": {"minute": "30", "hour": "8", "tz": "Asia/Seoul"},
     "retries": 2, "retry_delay": 300, "time_limit": 1800},
    {"name": "ks.social.needs_review", "func": needs_review_job,
     "schedule": {"minute": "40", "hour": "8", "tz": "Asia/Seoul"}, "retries": 2, "retry_delay": 300,
     "time_limit": 1800},
]
