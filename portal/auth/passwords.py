"""argon2id hashing and the password policy (SECURITY.md: ASVS 6.2.x, 11.4.2)."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from flask_babel import gettext as _

# OWASP's argon2id minimum: m=47104 KiB (46 MiB), t=1, p=1.
HASHER = PasswordHasher(time_cost=1, memory_cost=47104, parallelism=1)
MIN_LENGTH = 8
MAX_LENGTH = 128
_DUMMY_HASH = HASHER.hash("dummy password for timing")


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common breached passwords (zxcvbn's list; ASVS 6.2.4 asks for ≥ 3,000)
    plus our own list of Korean and product-specific ones."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS

    path = Path(__file__).with_name("common_passwords.txt")
    local = (line.strip().lower() for line in path.read_text().splitlines() if line.strip())
    return frozenset(local) | frozenset(p.lower() for p in FREQUENCY_LISTS["passwords"])


def policy_errors(password: str, email: str = "") -> list[str]:
    """Human-readable reasons ``password`` is refused; empty when it is acceptable."""
    errors = []
    if len(password) < MIN_LENGTH:
        errors.append(_("Use at least %(n)d characters.", n=MIN_LENGTH))
    if len(password) > MAX_LENGTH:
        errors.append(_("Use at most %(n)d characters.", n=MAX_LENGTH))
    lowered = password.lower()
    if lowered in common_passwords() or (email and lowered == email.lower().split("@")[0]):
        errors.append(_("This password is too common; choose another."))
    return errors


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """Constant-ish time: a missing user still costs one argon2 verification."""
    try:
        return HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return HASHER.check_needs_rehash(stored_hash)
