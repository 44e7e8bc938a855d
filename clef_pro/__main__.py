"""``python -m clef_pro``."""

from clef_pro.cli import main

main()
