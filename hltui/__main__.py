import sys

from hltui.cli import main

sys.exit(main())
