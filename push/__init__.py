"""Web Push: VAPID keys, subscriptions' endpoints, payloads, delivery and the queue worker.

Only push/sender.py imports pywebpush. Actions write the intents (in their transactions);
push/worker.py expands them into per-device jobs and delivers them off the request path;
the same worker batches them into notification mails (push/mailing.py, push/digest.py).
"""
