"""App-wide web pieces: health check, language switch, error pages, CLI commands, labels."""
