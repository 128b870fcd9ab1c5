"""The admin plane: a separate, authenticated JSON API and the CLI that drives it.

Import the submodules directly (`proxy.admin.app`, `proxy.admin.config`, `proxy.admin.commands`);
this package imports nothing eagerly so `proxy.config` may depend on `proxy.admin.config`.
"""
