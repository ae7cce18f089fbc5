"""Human-readable reports: a self-contained HTML page with charts of a scan's numbers."""

from clearance.reports.html import render_scan_report

__all__ = ["render_scan_report"]
