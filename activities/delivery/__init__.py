"""Delivery's side effects: settings, the outbox, starting and sweeping deliveries."""

from activities.delivery.outbox import (
    SWEEP_EVERY_SECONDS,
    DeliveryActivities,
    DeliveryConfig,
    delivery_config,
    delivery_queue,
    delivery_rows,
    smtp_settings,
    start_deliveries,
    sweep_stranded,
)

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
