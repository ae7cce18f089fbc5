"""Reports that read finished scans: compliance texts from one or more of them.

``summarize`` writes the EU AI Act public summary of training content or the
California AB 2013 disclosure from several scans plus the provider's info
file, and ``copyright_policy`` the Art. 53(1)(c) copyright policy from a
scan's configuration; ``write_document`` renders them to Markdown, HTML or
JSON. A scan's own ``report.html`` is written by the scan itself
(``clearance.scan.report_html``).
"""

from clearance.reports.compliance import copyright_policy, summarize
from clearance.reports.document import Document, render, write_document

__all__ = [
    "Document",
    "copyright_policy",
    "render",
    "summarize",
    "write_document",
]
