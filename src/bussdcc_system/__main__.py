import sys

from bussdcc_system.cli import main

sys.exit(main())
