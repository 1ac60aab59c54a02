"""How actor messages and events travel: the seam (`base`), the in-process transport
(`memory`, the embedded default) and RabbitMQ (`amqp`, its topology and shard balance)."""
