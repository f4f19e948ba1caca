import sys

from dlviz.cli import main

sys.exit(main())
