"""Retention decisions: campaigns with their control groups, the ledger, campaign results,
targeting, the use of uplift models, and the report that tells a CCO whether retention pays."""
