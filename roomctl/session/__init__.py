"""The session: videoframes, the didactisch kader, the state machine steered from the tablet."""
