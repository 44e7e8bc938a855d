"""The Clef Pro operator: reconciles Integration, Policy and NotificationChannel
resources into API key Secrets and the service's integration config.

Handlers in :mod:`clef_pro_operator.handlers` are thin Kopf wiring; what they
decide lives in plain modules (:mod:`.resolve`, :mod:`.keys`, :mod:`.conditions`)
that are unit-tested without a cluster, and what they touch lives in
:mod:`.kube` and :mod:`.service`.
"""
