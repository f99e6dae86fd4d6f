"""The workspace (project management engine): questionnaire, catalog and search, versions,
roles, templates and clones, data dictionary, health score and archiving of experiments."""
