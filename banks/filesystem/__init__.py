"""The filesystem bank, the embedded default: objects as files in a local directory, with
atomic writes, leases under flock, ordered listing and streamed puts."""
