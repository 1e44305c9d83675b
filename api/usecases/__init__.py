"""What the service does for each request, free of HTTP: plain data in, plain data or a ``Denied`` out."""
