"""Placeholder (owner: partner): replaced by the area's module."""

from flask import Blueprint

bp = Blueprint("prm_partner", __name__, url_prefix="/prm/my")
