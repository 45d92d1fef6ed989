"""The entrance kiosk: public, touch-first pages for walk-in visitors."""
