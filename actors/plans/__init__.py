"""Plans: named sets of resources protected on a schedule and thinned by a retention policy.
This package is the pure logic of both (when a plan's slots fall, which checkpoints to keep);
it imports nothing of the engine."""
