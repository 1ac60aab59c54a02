"""Operations on the runtime: the engine that turns requests into running operations, and
the operations built beside protect/restore/delete (verify, bank gc, the demo)."""
