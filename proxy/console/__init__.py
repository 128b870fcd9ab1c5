"""The responder console: browser pages on the admin listener, logged in with an admin token.

`sessions` keeps login sessions in the shared store (any replica accepts them), `gate` decides what a
cookie-carrying request may do (CSRF on every state-changing call), `pages` serves the login page, the
console page and its static files. Every action the page takes is a call to the admin API.
"""
