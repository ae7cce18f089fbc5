"""The HTTP face: a FastAPI app factory (``create_app``) over the library. Nothing imports it."""

from clearance.api.app import create_app

__all__ = ["create_app"]
