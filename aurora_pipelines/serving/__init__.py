"""Scoring: batch on Spark (batch.py) and the HTTP scoring service (service.py, scoring.py)."""
