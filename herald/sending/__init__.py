"""Sending, as the kernel knows it: runs, the send log, suppression, the queues' wire format.

The sender service (senders/) delivers; the kernel keeps what several services share: the
operational-store side of a send (runs and their state, the idempotency send log, suppressed
addresses) and the shape of what travels on the `sends` and `events` queues.
"""
