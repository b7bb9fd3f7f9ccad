"""A bad-input corpus: awkward but real files units send, each with its exact verdict at the intake."""
