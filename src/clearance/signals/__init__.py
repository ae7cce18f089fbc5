"""Pure, lenient parsers for every machine-readable opt-out protocol.

Bytes or text go in; typed results plus warnings come out. Nothing here touches
the network or a database, and no parser raises on malformed input. The one
mapping from protocol values onto Clearance's usages lives in ``mapping``.
"""

from clearance.signals.aipref import parse_content_usage
from clearance.signals.aitxt import parse_aitxt
from clearance.signals.content_signal import parse_content_signal
from clearance.signals.embedded import EmbeddedSignals, embedded_signals, inspect_file
from clearance.signals.html_meta import parse_html_meta
from clearance.signals.iptc_xmp import read_iptc_data_mining
from clearance.signals.paycrawl import parse_pay_per_crawl
from clearance.signals.robots import parse_robots, robots_for_status
from clearance.signals.rsl import parse_rsl
from clearance.signals.tdmrep import parse_tdm_policy, parse_tdmrep_json
from clearance.signals.xrobots import parse_x_robots_tag

__all__ = [
    "EmbeddedSignals",
    "embedded_signals",
    "inspect_file",
    "parse_aitxt",
    "parse_content_signal",
    "parse_content_usage",
    "parse_html_meta",
    "parse_pay_per_crawl",
    "parse_robots",
    "parse_rsl",
    "parse_tdm_policy",
    "parse_tdmrep_json",
    "parse_x_robots_tag",
    "read_iptc_data_mining",
    "robots_for_status",
]
