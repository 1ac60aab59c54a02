"""Engine state kept in a bank: checkpoints and their store, the resource graph, the
operation journal, and each operation's record and stored spec."""
