"""Pure, lenient parsers for every machine-readable opt-out protocol.

Bytes or text go in; typed results plus warnings come out. Nothing here touches
the network or a database, and no parser raises on malformed input. The one
mapping from protocol values onto Clearance's usages lives in ``mapping``.
"""
