"""Placeholder (owner: checkin): replaced by the area's module."""

from flask import Blueprint

bp = Blueprint("prm_checkin", __name__, url_prefix="/prm/checkin")
