"""Human-readable reports: a scan's HTML page, and compliance texts from one or more scans.

``render_scan_report`` draws one scan's numbers. ``summarize`` writes the EU
AI Act public summary of training content or the California AB 2013
disclosure from several scans plus the provider's info file, and
``copyright_policy`` the Art. 53(1)(c) copyright policy from a scan's
configuration; ``write_document`` renders them to Markdown, HTML or JSON.
"""

from clearance.reports.compliance import copyright_policy, summarize
from clearance.reports.document import Document, render, write_document
from clearance.reports.html import render_scan_report

__all__ = [
    "Document",
    "copyright_policy",
    "render",
    "render_scan_report",
    "summarize",
    "write_document",
]
