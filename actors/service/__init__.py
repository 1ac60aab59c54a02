"""The worker service: a cluster member that takes requests off the queue, hosts actors,
reaps abandoned operations, and configures logging for a long-running process."""
