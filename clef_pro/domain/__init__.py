"""The domain of Clef Pro: report schema, severity, canonical scope, API key
format and the alert lifecycle as a pure state machine.

Nothing here does I/O or imports a framework (the import-linter contract in
``pyproject.toml`` enforces it), so the service and the operator can share one
definition of every rule and the rules can be tested in microseconds.
"""
