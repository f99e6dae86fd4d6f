"""Platform API route modules; each exposes `build_router(context) -> APIRouter`."""
