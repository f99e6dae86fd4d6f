"""The platform HTTP API: one FastAPI app for governance, experiments, sources, queries and runs.

`app.create_platform_app` starts from the governance API (approvals, the checker's page) and
mounts every router module in `routes/`; each module exposes `build_router(context)`.
"""
