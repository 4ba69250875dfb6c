"""One outbox for every channel: message rows, channel adapters, dispatch with send-time policies."""
