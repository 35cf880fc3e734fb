"""The mock payment provider: authorize / capture / void / refund, idempotent by key.

Its own aiohttp process (``python -m target_service.provider``) over its own ``payments``
database. Tokens: ``tok_ok`` authorizes, ``tok_decline`` (and any unknown token) is declined.
``PROVIDER_FAILURE_RATE`` makes a fraction of mutating calls answer 503 *before* acting (a
definite no-effect failure); ``PROVIDER_LATENCY_MS`` delays every mutating call.
"""
