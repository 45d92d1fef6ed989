"""Check-in at the kiosk or the desk, the waiting queue, receptions and the lobby board."""
