"""Every side effect of the product: the read model, notifications, the calendar, fan-out."""
