"""Governed data sources: catalog tables, files, Delta paths; the sample-data generator."""
