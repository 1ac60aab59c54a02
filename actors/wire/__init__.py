"""What crosses the wire between actors, workers and clients: requests, actor messages,
progress events, failures as data, and the JSON Schema of all of them. No behaviour."""
