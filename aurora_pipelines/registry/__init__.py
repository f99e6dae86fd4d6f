"""MLflow tracking and model registry: logging, registration, aliases and artifact digests."""
