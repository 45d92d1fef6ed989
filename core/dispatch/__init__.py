"""Who receives a customer: the load rule, eligibility, assignments, rotation, refill."""
