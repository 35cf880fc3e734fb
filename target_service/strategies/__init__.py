"""The three coordination strategies behind one interface (:class:`base.Strategy`).

:data:`STRATEGIES` is the one list of their names (docs/contract.md section 8): the service's
validation and OpenAPI document, the checkers, the scenarios and the CLI all import it.
"""

#: The strategy names a client may ask for, in the order runs use them.
STRATEGIES: tuple[str, ...] = ("lock", "saga", "2pc")
