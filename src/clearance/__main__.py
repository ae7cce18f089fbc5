"""``python -m clearance``: the same CLI as the ``clearance`` script."""

from clearance.cli import run

run()
