"""`python -m eal.cli ...` runs the `eal` command line."""

from eal.cli import main

main()
