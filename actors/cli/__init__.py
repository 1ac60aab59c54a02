"""`strongbox`, the command line: one module per verb group, the progress renderer and the
text formatting. `actors.cli.main:main` is the console script."""
