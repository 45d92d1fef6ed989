"""Customer service's callbacks: the worklist, claims, the questionnaire and its outcomes."""
