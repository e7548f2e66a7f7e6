"""Delivery's side effects, by what changes together:

- settings: quiet hours, digests, the daily cap and the task queue, read from settings;
- providers: the channels (email, eSMS, Zalo ZNS) built from settings;
- starts: a recorded message's first state and the start of its delivery workflow;
- sweep: starting the messages left queued without their workflow;
- outbox: the delivery workflows' activities (one send through the outbox, state, dead
  letters, digests), with messages, state and dead_letters beside it.

The names below are the ones the worker, the catch-up, the notices and the tests use."""

from activities.delivery.outbox import DeliveryActivities
from activities.delivery.providers import smtp_settings
from activities.delivery.settings import DeliveryConfig, delivery_config, delivery_queue
from activities.delivery.starts import delivery_rows, start_deliveries
from activities.delivery.sweep import SWEEP_EVERY_SECONDS, sweep_stranded

__all__ = [
    "SWEEP_EVERY_SECONDS",
    "DeliveryActivities",
    "DeliveryConfig",
    "delivery_config",
    "delivery_queue",
    "delivery_rows",
    "smtp_settings",
    "start_deliveries",
    "sweep_stranded",
]
