"""The one results table: every evaluation of every method as tidy rows (`distill.results.table`)."""
