"""Stores, staff, consultant settings, kiosk devices and sign-in."""
