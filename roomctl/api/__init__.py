"""The HTTP API and the pages roomctl serves."""
