"""CLI command groups, one module per area, registered in cli.py."""
