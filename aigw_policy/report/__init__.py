"""What people see of their usage: the HTML report, and reconcile (ledger, counters, provider)."""
