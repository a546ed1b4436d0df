"""Use cases of the service. Each takes an ``orm.Session`` and never commits: the request or
CLI command that calls it owns the transaction (``issuer.db.unit_of_work``)."""
