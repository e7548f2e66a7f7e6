"""Activity names of delivery, as its workflows call them (the sandbox imports no adapters)."""

SEND_MESSAGE = "send_message"
SET_DELIVERY_STATE = "set_delivery_state"
RECORD_DEAD_LETTER = "record_dead_letter"
JOIN_DIGEST = "join_digest"
