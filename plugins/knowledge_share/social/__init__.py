"""Comments, helpful votes, followed tags, digests and the freshness flag."""
