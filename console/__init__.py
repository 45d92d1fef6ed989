"""The staff console: consultants, customer service, managers and admins."""
