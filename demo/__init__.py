"""The demo store: 60 days of a showroom played through the real services from a fixed seed."""
