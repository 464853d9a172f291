import sys

from petmad.cli import main

sys.exit(main())
