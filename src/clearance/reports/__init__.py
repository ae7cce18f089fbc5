"""Reports that read the outputs of finished scans (compliance summaries across several runs).

A scan's own ``report.html`` is written by the scan itself (``clearance.scan.report_html``).
"""
