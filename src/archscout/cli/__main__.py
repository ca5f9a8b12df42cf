"""`python -m archscout.cli`: the command line without the installed script (tests run it in a subprocess)."""
import sys

from . import main

sys.exit(main())
