"""From a failing run to a minimal reproduction: ``harness replay`` and ``harness shrink``.

Module map: ``recorded`` (what a run folder recorded: report, effective scenario, fault
timeline; the scenario that runs it again), ``shrink`` (the pure candidate search and acceptance
rule), ``attempts`` (candidates run for real, M of K), ``shrink_files`` (``shrink.jsonl``,
``min.toml``).
"""
