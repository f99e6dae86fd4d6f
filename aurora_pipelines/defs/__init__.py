"""The Dagster side of Aurora: definitions, assets, resources, sensors, jobs and the in-process
runner used by the CLI. It translates between Dagster and the engine (the rest of
`aurora_pipelines/`), which imports nothing from here."""
