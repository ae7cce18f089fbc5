"""The HTTP face: a FastAPI app factory (``create_app``) over the library. Nothing imports it."""

from clearance.api.app import app_from_env, create_app

__all__ = ["app_from_env", "create_app"]
