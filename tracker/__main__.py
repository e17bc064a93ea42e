"""`python -m tracker`: the same as the `tracker` command."""

from .cli import main

main()
