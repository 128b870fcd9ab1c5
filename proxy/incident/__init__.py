"""After containment: the incident timeline, the evidence bundle and its report, and replay against a fixed policy."""
