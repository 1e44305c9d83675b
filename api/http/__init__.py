"""The HTTP layer (FastAPI): routes that parse, call a use case and shape its result; problems; middleware."""
