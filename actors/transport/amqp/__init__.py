"""The RabbitMQ transport: the only package that imports aio-pika (see ``transport``)."""

from actors.transport.amqp.transport import AmqpTransport
from actors.transport.topology import redact_url, shard_of

__all__ = ["AmqpTransport", "redact_url", "shard_of"]
