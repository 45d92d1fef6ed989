"""Performance measurements (`make bench`). Each figure is reported against a floor measured
in the same run on the same database, so the ratios mean something on any machine."""
