"""Licensing that pays: offers, licence requests and acceptance, the run ledger, royalty
statements, and what an opt-out reaches (impact, notices).

Layer 3, beside the registry it stores everything in: it reads owners' terms
as published offers, turns a scan's ``licenses.json`` into one request per
owner, makes accepted requests agreements that carry the agreed price model
and the scan's manifest digest, records training runs (which works, how many
items, under which agreement, what amount), and computes statements in
integer minor units that anyone can recompute from the ledger (see
docs/licensing.md).
"""

from clearance.core.licence_grammar import parse_license

__all__ = ["parse_license"]
