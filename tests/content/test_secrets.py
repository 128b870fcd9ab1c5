"""Credentials are found and masked; placeholders and ordinary identifiers pass."""

from __future__ import annotations

import hashlib

import pytest

from proxy.content import secrets, triggers
from proxy.content.normalize import fold
from proxy.content.runs import TextView


def scan(text: str) -> list[secrets.Hit]:
    view = TextView(text)
    return secrets.scan(text, view.runs, triggers.fired(fold(text), view))


@pytest.mark.parametrize(("text", "kind"), [
    ("key AKIAZ3MXQ7R2ABCDTE6P", "aws_access_key"),
    ("token ghp_R7mK2pQ9xT4vW8yZ1aB3cD5eF6gH0jL2nM4o", "github_token"),
    ("xoxb-2048593021-4819203948-Xh7Tn2Lq9Wm4Rz8Yb5Nc1Hd4", "slack_token"),
    ("GOOGLE=AIzaSyD3x9k2LmQ7vT4pR8wZ1nB6cY0fH5jK2aE", "google_api_key"),
    ('{"stripe": "sk_live_4eC39HqLyjWDarjtT1zdp7dc9x"}', "stripe_key"),
    ("Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt"),
    ("postgres://admin:S3cr3tPassw0rd@db.internal:5432/app", "connection_string"),
    ("aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8a9BcDeF", "secret_assignment"),
    ("client_secret: 'aZ9kL2mQ7vX4pR8tY1wB6nC3'", "secret_assignment"),
    ("client_secret: 'aZ9$kL2#mQ7!vX4pR8tY1wB6nC3'", "secret_assignment"),
    ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi8Z8Qp1vXk2LmN4oPq7RsT6uVwXyZa\n"
     "-----END RSA PRIVATE KEY-----", "private_key"),
    ("deploy: access_token$production$2bnoepln1f7oam2g$85fd1199081576ba6064a9e35d8b659a", "braintree_token"),
    ("TWILIO=twilioSK2ded83611158d43608f6c848269359ac", "twilio_key"),
    ("clone E6VVpIsjxSgpNPxpJ4HlkCcj:xuQnL96S_7eys8d4ZgKufwZBcdC2-@github.com/org/repo", "connection_string"),
    ("mongodb+srv://2uXnIf9CA59od7Z:YZcMHhUxSEVaSEMZQJDIxHtpmdGKtoTxOFa@cluster0.example.net", "connection_string"),
])
def test_credentials_are_found_and_masked(text: str, kind: str) -> None:
    hits = scan(text)
    assert [h.detector for h in hits] == [f"secrets.{kind}"]
    excerpt = hits[0].excerpt or ""
    secret = text[hits[0].spans[0][0]:hits[0].spans[0][1]]
    assert excerpt == f"{secret[:4]}…[{len(secret)} chars sha256:{hashlib.sha256(secret.encode()).hexdigest()}]"
    assert secret not in excerpt


@pytest.mark.parametrize("text", [
    "postgres://user:password@localhost:5432/app",
    "DATABASE_URL=postgres://app:${DB_PASSWORD}@db/app",
    "password = changeme",
    "token: ${{ secrets.GITHUB_TOKEN }}",
    "customer_id=7f3a9c2e request_id=4821 getUserAccountInformationById",
    "api_key = os.environ['API_KEY']",
    "authStrategy: createActionAuth, auth: createTokenAuthentication",
    "mongodb://admin:Password@localhost/app",
    "git clone git@github.com:org/repo.git; ssh deploy:changeme@host.example.com",
    '"SLACK_BOT_TOKEN": "xoxb-your-bot-token",',
    "SLACK_BOT_TOKEN=xoxb-bot-token-goes-here",
    'const octokit = new Octokit({ auth: "personal-access-token123" });',
    'new Octokit({ auth: "mypersonalaccesstoken123" })',
    'const TOKEN = "ghp_PersonalAccessToken01245678900000000";',
    "export API_TOKEN=<YOUR_TOKEN>",
    'headers = {"Authorization": "Bearer <YOUR_ACCESS_TOKEN>"}',
    "OPENAI_API_KEY=${OPENAI_API_KEY}",
    'api_key: "{{ vault_api_key }}"',
    '"GDRIVE_CREDENTIALS_PATH=/gdrive-server/credentials.json"',
    "GOOGLE_APPLICATION_CREDENTIALS=/home/dana/keys/service-account.json",
    "SSL_KEY_FILE=./certs/server-key.pem",
    'client_secret = "Your-Client-Secret-Here"',
    "key AKIAIOSFODNN7EXAMPLE",
    'orjson.OPT_NON_STR_KEYS,\n)\nb\'{"7202d115-7ff3-4c81-a7c1-2a1f067b1ece":[1,2,3]}\'',
])
def test_placeholders_and_identifiers_pass(text: str) -> None:
    assert scan(text) == []


@pytest.mark.parametrize(("text", "kind"), [
    ('"SLACK_BOT_TOKEN": "xoxb-2048593021-4819203948-Xh7Tn2Lq9Wm4Rz8Yb5Nc1Hd4"', "slack_token"),
    ("API_TOKEN=tok-9fQ2xL7mR4vK8pZ1wB6nC3yT5hJ0", "secret_assignment"),
    ('auth: "p3rs0nal-Acc3ss-9fQ2xL7mR4vK"', "secret_assignment"),
    ("SECRET_KEY=/K7MDENG/bPxRfiCYzQ8a9BcDeFwJalrXUtnFEMI", "secret_assignment"),
    ('{"aws": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYzQ8a9BcDeF"}', "secret_assignment"),
])
def test_real_values_next_to_placeholder_rules_are_still_found(text: str, kind: str) -> None:
    assert [h.detector for h in scan(text)] == [f"secrets.{kind}"]


def test_redaction_replacement_names_the_kind() -> None:
    (hit,) = scan("AKIAZ3MXQ7R2ABCDTE6P")
    assert hit.replacement == "[REDACTED:aws_access_key]"


def test_entropy() -> None:
    assert secrets.entropy("aaaa") == 0.0
    assert secrets.entropy("abcd") == 2.0


@pytest.mark.parametrize("text", [
    '{"author": "contact@geoffroycouprie.com", "name": "nom", "version": "7.1.3"}',
    '"petstore_auth": {"type": "oauth2", "authorizationUrl": "http://petstore.swagger.io/oauth/dialog"}',
    'auth_endpoint = "https://login.example.com:8443/oauth2/v2.0/authorize"',
])
def test_a_link_or_an_address_under_a_secret_sounding_name_is_no_secret(text: str) -> None:
    assert scan(text) == []


def test_a_url_with_a_password_under_such_a_name_is_still_one() -> None:
    assert scan('auth_url = "https://admin:Zq8vLm2KpX7wRt4N@db.internal.example/x"')


def test_a_dotted_name_assigned_to_an_auth_setting_is_no_secret() -> None:
    text = '@override_settings(AUTH_USER_MODEL="auth.CustomUser")\nAUTH_BACKEND = "accounts.backends.EmailAuth"'
    assert scan(text) == []


def test_a_random_value_assigned_to_an_auth_setting_is_still_one() -> None:
    assert scan('AUTH_TOKEN = "q8Zr.T3vLx9.Wm2pKd7"')
