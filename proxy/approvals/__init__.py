"""Human approval of held tool calls: requests bound to one call, decided once, through any replica."""

from proxy.approvals.book import ApprovalBook, ApprovalRefused
from proxy.approvals.requests import ApprovalRequest

__all__ = ["ApprovalBook", "ApprovalRefused", "ApprovalRequest"]
