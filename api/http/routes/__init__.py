"""One router per resource: traces, the register, reviews, collection of held requests, health."""
