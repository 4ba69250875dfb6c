"""Analytics pages: the page modules add their routes to the ``analytics`` blueprint."""

from . import dashboard_views, segment_views  # noqa: F401
