"""Clef Pro: self-hosted reporting and alerting for Clef secrets governance.

This top-level package holds only what every part of the product shares: the
pure :mod:`clef_pro.domain` and the ``clef-pro`` command line that composes the
service and the operator. It must stay import-free so that importing the domain
never drags in a framework.
"""
