"""``python -m crmlib.cli``: the ``crm`` command."""

import sys

from crmlib.cli.main import main

sys.exit(main())
