"""The FastAPI prediction service and its demo page."""
