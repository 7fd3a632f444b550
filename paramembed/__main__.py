import sys

from paramembed.cli import main

sys.exit(main())
