"""``harness matrix``: every strategy x fault schedule and every seeded bug, for several seeds.

Module map: ``plan`` (the cells, validated flags), ``cells`` (one cell through the run loop,
time to detection), ``runner`` (all cells, the report folder kept current), ``grid``
(``matrix.json``: grids, rates, verdict; pure), ``render`` (``junit.xml``, ``matrix.html``).
"""
