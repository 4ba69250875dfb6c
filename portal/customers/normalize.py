"""Contact-data normalization and checks shared by forms, the API and the report import."""

from __future__ import annotations

import re

from email_validator import EmailNotValidError, validate_email

_DIGITS = re.compile(r"\D+")
_PHONE_CHARS = re.compile(r"\+?[0-9 ().\-]+")
MOBILE_PREFIXES = ("010", "011", "016", "017", "018", "019")
POSTAL = re.compile(r"^\d{5}$")


def normalize_phone(raw: str | None) -> str | None:
    """Korean phone → digits only with a leading 0 (``+82 10-1234-5678`` → ``01012345678``).

    Returns ``None`` when the number cannot be a Korean phone number.
    """
    if raw is None:
        return None
    if not _PHONE_CHARS.fullmatch(raw.strip()):
        return None  # letters or other symbols: a typo, not something to silently drop
    digits = _DIGITS.sub("", raw.strip())
    if raw.strip().startswith("+") and not digits.startswith("82"):
        return None  # another country's number
    if digits.startswith("82"):
        digits = digits[2:]
        if not digits.startswith("0"):
            digits = "0" + digits
    if not digits.startswith("0"):
        return None
    if digits.startswith("01"):
        return digits if digits[:3] in MOBILE_PREFIXES and len(digits) in (10, 11) else None
    if digits.startswith("02"):
        return digits if len(digits) in (9, 10) else None
    if digits[:2] in {"03", "04", "05", "06"} or digits.startswith("070"):
        return digits if len(digits) in (10, 11) else None
    return None


def format_phone(digits: str | None) -> str:
    """``01012345678`` → ``010-1234-5678`` for display."""
    if not digits:
        return ""
    if digits.startswith("02"):
        return f"02-{digits[2:-4]}-{digits[-4:]}"
    return f"{digits[:3]}-{digits[3:-4]}-{digits[-4:]}"


def normalize_email(raw: str | None) -> str | None:
    """Lower-cased address when its syntax is valid, else ``None`` (no DNS look-ups)."""
    if raw is None or not raw.strip():
        return None
    try:
        return validate_email(raw.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError:
        return None


def postal_code_valid(raw: str | None) -> bool:
    return bool(raw and POSTAL.match(raw.strip()))


def unstorable(value: str) -> bool:
    """NUL (PostgreSQL text cannot hold it) or a lone surrogate (not encodable as UTF-8)."""
    if "\x00" in value:
        return True
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def clean_text(value: str) -> str:
    """``value`` without the characters :func:`unstorable` refuses (for search terms and notes)."""
    if unstorable(value):
        value = value.replace("\x00", "").encode("utf-8", "ignore").decode("utf-8")
    return value
