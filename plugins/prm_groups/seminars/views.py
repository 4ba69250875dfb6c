"""Placeholder (owner: seminars): replaced by the area's module."""

from flask import Blueprint

bp = Blueprint("prm_seminars", __name__, url_prefix="/prm/programmes")
