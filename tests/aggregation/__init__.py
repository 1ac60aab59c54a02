"""Aggregation (the seed's last paragraph): one consistency-group snapshot per server."""
