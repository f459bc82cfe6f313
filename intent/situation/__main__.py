"""``python -m intent.situation [--update CHECKOUT --commit SHA --date DATE]``: referrer lists."""

from intent.situation.referrers import main

raise SystemExit(main())
