"""One adapter per delivery channel, each behind the interface of `base.py`."""
