"""Delta Lake IO and the shared Spark session."""
