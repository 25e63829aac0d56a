"""``python -m copyseal`` is the ``copyseal`` command."""

from copyseal.cli import main

main()
