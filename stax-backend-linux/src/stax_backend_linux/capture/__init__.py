"""Opening the events of a recording and draining their rings: targets, event opening (in-process or
through staxd), ring buffers and the drainer thread, the session that runs it all."""
