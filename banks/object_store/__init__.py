"""What the object-store banks (S3, Swift) share: options, bounded retries, metadata headers
and lock-free leases written conditionally."""
