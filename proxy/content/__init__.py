"""Content inspection: detectors for invisible characters, terminal escapes, prompt injection,
encoded payloads, secrets and exfiltration, plus egress destinations. One module per family;
`scanner` runs them and applies the per-surface actions of `settings`.
"""
