"""The `embc` command line: thin commands over the library."""
