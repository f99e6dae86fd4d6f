"""Scoring: batch on Spark (here) and the HTTP service (a later issue)."""
