"""The pathway engines (app.pathway, pure) run against the database: service.py builds a candidate's facts from
their records and renders the computed views, router.py serves them, cohort.py the advisor's cohort rows, and
computed.py keeps them up to date in the background (`readiness.changed`, `deadline.approaching` events derived from
the change feed and a daily sweep)."""
