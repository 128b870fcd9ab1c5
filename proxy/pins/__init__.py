"""Tool-definition pinning: rug-pull, tool-poisoning and shadowing defence with an approval workflow.

Entry points for integration:

- `proxy.pins.settings.PinsConfig` — the `pins:` config section; `build_enforcer(config, audit=…,
  store=…)` loads the lock files and returns a `PinEnforcer`.
- `proxy.inspections.pins.PinCheck(enforcer)` — the inspection (register it before the listing filter).
- `proxy.pins.commands.add_pin_parsers(subparsers)` / `run_pin_command(namespace, config)` — the CLI.
- `proxy.pins.admin.PIN_ENDPOINTS` — admin-API routes (list pending, approve, reject).
- `proxy.pins.approvals` — approve / reject / pending on any `Store` (shared by CLI and admin API).
"""

from __future__ import annotations
