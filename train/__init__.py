"""Training, evaluation and use of the denoisers: the command-line layer of the project."""
