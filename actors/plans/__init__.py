"""Plans: named sets of resources protected on a schedule and thinned by a retention policy."""
