"""The actor runtime: the host, resource and operation actors, their states, the activity
runner and the journal-backed recovery of an actor after a takeover."""
