"""`python -m tracker`: the same as the `tracker` command."""

from tracker.cli import main

if __name__ == "__main__":  # not when a child process imports it (tracker.fetch.reader)
    main()
