"""The matching engine: does a listing infringe one of the client's marks, and why.

`Matcher(client).assess(listing)` and `assess(listing, client)` return an
`Assessment` (score in [0, 1], verdict, mark id, signals with evidence text).
No Scrapy here: the CLI, the crawl pipeline and the tests share this library.
"""

from matching.score import Matcher, assess
from matching.types import Assessment, ListingInput, Signal

# Bumped when scoring or what the image matchers find changes, so stored listings are
# assessed again and stored photo findings are dropped (crawler.pipelines).
__version__ = "1.7"

__all__ = ["Assessment", "ListingInput", "Matcher", "Signal", "__version__", "assess"]
