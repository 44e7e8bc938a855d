"""Delivery backends of the notification pipeline: how a message leaves the service.

Each backend turns one outbox message (a :class:`~clef_pro.domain.notify.Digest`
for one channel) into whatever its destination speaks: an email through
aiosmtplib, a signed JSON request for a webhook. They know nothing of the
database, the outbox or retries: the sender (``services/delivery.py``) claims
messages, hands them to the backend of their channel type and records the
outcome. A new kind of destination (Slack, PagerDuty, ...) is a new channel
model in the domain config and a new backend here; the pipeline stays as it is.
"""
