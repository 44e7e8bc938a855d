"""The Clef Pro service: takes reports from the Clef CLI, keeps them, runs the
alert lifecycle and serves the read API and the config API the operator calls.

Layers, top to bottom (enforced by import-linter): ``app`` wires ``routes``;
routes speak HTTP through ``deps``; ``services`` hold the use cases; ``storage``
holds the tables and sessions. Everything imports :mod:`clef_pro.domain`.
"""
