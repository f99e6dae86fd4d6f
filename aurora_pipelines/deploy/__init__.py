"""Deployment: artifact stores (local directory, S3) and verified model bundles."""
