"""Seminar series: sessions, invitations by conditions, registration without login, waiting list with seat offers, .ics, QR check-in, attendance and completion."""
