"""A third-party plugin pair written to the seeds' interface exactly as the seeds state it:
plain classes, synchronous methods, mapping resources, JSON Schema documents, a generator
that yields while polling. Nothing here imports Strongbox."""
