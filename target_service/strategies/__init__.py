"""The three coordination strategies behind one interface (:class:`base.Strategy`)."""
