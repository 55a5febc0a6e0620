"""`python -m costmodel ...`"""
from costmodel.cli import main

raise SystemExit(main())
