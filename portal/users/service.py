"""Create users and grant global and local roles, with audit events."""

from __future__ import annotations

from sqlalchemy import select

from .. import audit
from ..auth.passwords import hash_password, policy_errors
from ..extensions import db
from ..models import LocalRole, OrgUnit, Partner, PartnerGroup, User, UserRole
from ..security.roles import role_names


class UserError(Exception):
    """Refused with a message for the administrator."""


def normalize_email(email: str) -> str:
    return email.strip().lower()


def create_user(email: str, name: str, password: str, roles: list[str] | None = None, locale: str = "ko",
                partner: Partner | None = None, password_hash: str | None = None) -> User:
    email = normalize_email(email)
    if not email or "@" not in email:
        raise UserError("Enter a valid e-mail address.")
    if db.session.execute(select(User.id).where(User.email == email)).first():
        raise UserError(f"A user with e-mail {email} already exists.")
    if password_hash is None:
        errors = policy_errors(password, email)
        if errors:
            raise UserError(" ".join(errors))
        password_hash = hash_password(password)
    user = User(email=email, name=name.strip() or email, password_hash=password_hash, locale=locale,
                partner_id=partner.id if partner else None)
    db.session.add(user)
    db.session.flush()
    for role in roles or []:
        grant_global(user, role)
    audit.record("user.created", user, summary=email)
    return user


def grant_global(user: User, role: str) -> None:
    if role not in role_names():
        raise UserError(f"Unknown role {role!r}.")
    if role not in user.role_names:
        user.global_roles.append(UserRole(user_id=user.id, role=role))
        audit.record("user.role_granted", user, summary=role)


def revoke_global(user: User, role: str) -> None:
    for r in list(user.global_roles):
        if r.role == role:
            user.global_roles.remove(r)
            audit.record("user.role_revoked", user, summary=role)


def grant_local(user: User, role: str, target: OrgUnit | PartnerGroup | Partner) -> LocalRole:
    if role not in role_names():
        raise UserError(f"Unknown role {role!r}.")
    kwargs = {
        OrgUnit: {"org_unit_id": target.id},
        PartnerGroup: {"partner_group_id": target.id},
        Partner: {"partner_id": target.id},
    }[type(target)]
    for lr in user.local_roles:
        if lr.role == role and all(getattr(lr, k) == v for k, v in kwargs.items()):
            return lr
    lr = LocalRole(user_id=user.id, role=role, **kwargs)
    user.local_roles.append(lr)
    db.session.flush()
    audit.record("user.local_role_granted", user, summary=f"{role} on {target.code}")
    return lr


def revoke_local(user: User, local_role_id: int) -> None:
    for lr in list(user.local_roles):
        if lr.id == local_role_id:
            user.local_roles.remove(lr)
            audit.record("user.local_role_revoked", user, summary=f"{lr.role} on {lr.target_label}")
