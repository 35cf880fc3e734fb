"""`harness ui`: a live Locust web UI session against the running stack, and its verdict."""
