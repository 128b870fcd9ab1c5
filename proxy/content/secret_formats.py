"""Credential formats of the major platforms (prefix- or shape-based, so matches are high-confidence)."""

from __future__ import annotations

import re

FORMATS: tuple[tuple[str, str], ...] = (
    ("aws_access_key", r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|AIPA|ANPA|ANVA|APKA|A3T[A-Z0-9])[A-Z0-9]{16}"
                       r"(?![A-Za-z0-9])"),
    ("amazon_mws_token", r"\bamzn\.mws\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"),
    ("github_token", r"\bgh[pousr]_[A-Za-z0-9]{36,255}|\bgithub_pat_[A-Za-z0-9_]{50,255}"),
    ("gitlab_token", r"\bgl(?:pat|dt|rt|cbt|ptt|ft|imt|agent)-[A-Za-z0-9_-]{20,}"),
    ("slack_token", r"\bxox[abposre]-[A-Za-z0-9-]{10,}"),
    ("slack_webhook", r"services/T[A-Za-z0-9_]{8,}/B[A-Za-z0-9_]{8,}/[A-Za-z0-9_]{20,}"),
    ("discord_webhook", r"webhooks/\d{5,}/[A-Za-z0-9_-]{16,}"),
    ("teams_webhook", r"webhook/[A-Za-z0-9@-]{8,}/IncomingWebhook/[A-Za-z0-9-]{8,}/[A-Za-z0-9-]{8,}"),
    ("stripe_key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}|\bwhsec_[A-Za-z0-9]{24,}"),
    ("anthropic_key", r"\bsk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{32,}"),
    ("openai_key", r"\bsk-(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_-]{20,}T3BlbkFJ[A-Za-z0-9_-]{20,}"
                   r"|\bsk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,}|\bsk-[A-Za-z0-9]{48}"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}"),
    ("google_oauth_token", r"\bya29\.[0-9A-Za-z_-]{20,}"),
    ("google_fcm_key", r"\bAAAA[A-Za-z0-9_-]{7}:[A-Za-z0-9_-]{100,}"),
    ("npm_token", r"\bnpm_[A-Za-z0-9]{36}"),
    ("pypi_token", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
    ("nuget_key", r"\boy2[a-z0-9]{43}"),
    ("huggingface_token", r"\bhf_[A-Za-z0-9]{34,}"),
    ("sendgrid_key", r"\bSG\.[\w-]{22}\.[\w-]{43}"),
    ("twilio_key", r"SK[0-9a-fA-F]{32}\b"),
    ("mailgun_key", r"\bkey-[0-9a-zA-Z]{32}\b"),
    ("mailchimp_key", r"\b[0-9a-f]{32}-us\d{1,2}\b"),
    ("shopify_token", r"\bshp(?:at|ss|ca|pa)_[a-fA-F0-9]{32}"),
    ("square_token", r"\bsq0(?:atp|csp|[a-z]{3})-[0-9A-Za-z_-]{22,43}|\bsqOatp-[0-9A-Za-z_-]{22}"
                     r"|\bEAAA[A-Za-z0-9_-]{60}"),
    ("facebook_token", r"\bEAACEdEose0cBA[0-9A-Za-z]+|\bEAA[A-Za-z0-9]{90,}"),
    ("notion_token", r"\b(?:secret|ntn)_[A-Za-z0-9]{43}\b"),
    ("new_relic_key", r"\bNR(?:AK|AA|RA|II|IQ|SP)-[A-Za-z0-9_-]{27,42}"),
    ("dynatrace_token", r"\bdt0[a-zA-Z]\d{2}\.[A-Z0-9]{24}\.[A-Z0-9]{64}"),
    ("riot_key", r"\bRGAPI-[a-fA-F0-9]{8}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{4}-[a-fA-F0-9]{12}"),
    ("stackhawk_key", r"\bhawk\.[0-9A-Za-z_-]{20}\.[0-9A-Za-z_-]{20}"),
    ("braintree_token", r"access_token\$production\$[0-9a-z]{16}\$[0-9a-f]{32}"),
    ("bitly_key", r"\bR_[0-9a-f]{32}\b"),
    ("zoho_token", r"authtoken=[A-Za-z0-9]{20,}"),
    ("digitalocean_token", r"\bdo[opr]_v1_[a-f0-9]{64}"),
    ("databricks_token", r"\bdapi[a-f0-9]{32}"),
    ("vault_token", r"\bhv[sb]\.[A-Za-z0-9_-]{24,}"),
    ("linear_key", r"\blin_api_[A-Za-z0-9]{40}"),
    ("atlassian_token", r"\bATATT3[A-Za-z0-9_=-]{50,}"),
    ("azure_storage_key", r"AccountKey=[A-Za-z0-9+/]{86}=="),
    ("age_secret_key", r"AGE-SECRET-KEY-1[0-9A-Z]{58}"),
    ("discord_token", r"\b[MNO][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,38}"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"),
)
TOKEN = re.compile("|".join(f"(?P<{name}>{source})" for name, source in FORMATS))

# Where a credential can start: cheap literal-ish prefixes tried on each token run before the full formats.
START = re.compile(
    r"A(?:KIA|SIA|BIA|CCA|GPA|IDA|ROA|IPA|NPA|NVA|PKA|3T|Iza|AAA[A-Za-z0-9_-]{7}:|TATT3|ccountKey=|GE-SECRET)|"
    r"amzn\.mws|"
    r"gh[pousr]_|github_pat_|gl(?:pat|dt|rt|cbt|ptt|ft|imt|agent)-|xox[abposre]-|services/T|webhooks?/|"
    r"[sr]k_(?:live|test)_|whsec_|sk-|ya29\.|npm_|pypi-|oy2|hf_|SG\.|SK[0-9a-fA-F]|key-|[0-9a-f]{32}-us|"
    r"shp(?:at|ss|ca|pa)_|sq[0O]|EAA|secret_|ntn_|NR(?:AK|AA|RA|II|IQ|SP)-|dt0|RGAPI-|hawk\.|access_token\$|R_|"
    r"authtoken=|do[opr]_v1_|dapi|hv[sb]\.|lin_api_|[MNO][A-Za-z\d_-]{23,25}\.|eyJ"
)
