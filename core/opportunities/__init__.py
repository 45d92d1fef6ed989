"""Customers and opportunities: grading, follow-ups, invitations, orders, defeats, my day."""
