"""The candidate's guidance kept up to date in the background: computed events (`readiness.changed`,
`deadline.approaching`) derived from the change feed and a daily sweep. See app.guidance.computed."""
