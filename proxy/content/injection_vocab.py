"""The words injection patterns are built from (regex fragments, and first-word lists for anchoring)."""

from __future__ import annotations

CODEC = (r"(?:base ?64|base ?32|base ?16|hex(?:adecimal)?|rot-?13|quoted[- ]printable|url[- ]?encod(?:ed|ing)|mime|"
          r"ascii ?85|uu(?:encod(?:ed|ing))?|morse(?: code)?|braille|nato(?: phonetic)?|atbash|caesar|leet(?:speak)?|"
          r"binary|unicode (?:tags?|variant selectors?)|zalgo|ecoji|base ?2048)")
CODEC_FIRST = ("base hex hexadecimal rot quoted url mime ascii uu uuencoded uuencoding morse braille nato atbash "
                "caesar "
                "leet leetspeak binary unicode zalgo ecoji")  # first words are a-z runs: "base64" is "base"

VERB = (r"(?:ignor(?:e|ing)|disregard(?:ing)?|forget(?:ting)?|overrid(?:e|ing)|bypass(?:ing)?|neglect|"
         r"(?<=set\s{1,3})aside|(?<=pay no\s{1,3})(?:attention|heed) to|"
         r"(?<=(?:do not|don'?t|stop|no longer|never)\s{1,3})(?:follow(?:ing)?|obey(?:ing)?|heed(?:ing)?)|"
         r"nevermind|(?<=never\s{1,3})mind)")
VERB_FIRST = ("ignore ignoring disregard disregarding forget forgetting override overriding bypass bypassing "
               "neglect aside attention heed follow following obey obeying heeding nevermind mind")
QUAL = (r"(?:(?:all|any|every|each|the|your|my|these|those|its|of|previous|prior|above|earlier|preceding|former|"
         r"original|old|initial|existing|system|other|safety|remaining|rest|given|and|following|current|"
         r"developer'?s?|user'?s?)\s+){0,5}")
# "in order to" is no order, the command line no command
STRONG_OBJ = (r"(?:instruction|instructions|instruct\w*|prompt|prompts|directions?|directives?|guidelines?|"
               r"guardrails?|programming|system prompt|commands?(?![ -](?:line|prompt|palette|shell|output|names?)\b)|"
               r"(?<!\bin )orders?|rules?)")
WEAK_OBJ = (r"(?:context|content|text|data|document|conversation|messages?|everything|task|restrictions?|"
             r"limitations?|constraints?|polic(?:y|ies)|settings|info(?:rmation)?|input|above|that)")
DEICTIC = r"(?:all|any|every|previous|prior|above|earlier|preceding|other|the rest of|rest of|this|these|what)"
AI = (r"(?:ai|llm|llms|language models?|assistants?|chatbots?|bots?|agents?|gpt-?[\w.]*|chatgpt|claude|"
       r"gemini|copilot|llama|mistral|models?|automated (?:\w+ )?(?:systems?|screening|tools?|readers?|software|"
       r"analy[sz]ers?|reviewers?|scanners?|graders?|agents?|processing)|(?:analysis|screening|scoring|grading|"
       r"review|hiring|recruiting) (?:software|systems?|tools?|bots?))")
AI_FIRST = ("ai llm llms language assistant assistants chatbot chatbots bot bots agent agents gpt chatgpt claude "
             "gemini copilot llama mistral model models automated analysis screening scoring grading review hiring "
             "recruiting")
ROLE_WORD = r"(?:system|admin|administrator|developer|root|operator|supervisor|moderator|owner)"
ROLE_FIRST = "system admin administrator developer root operator supervisor moderator owner"
ROLE_KIND = (r"(?:message|prompt|note|override|instruction|notice|request|command|update|alert|directive|mode)")
TELL_VERB = (
                r"(?:tell(?:ing)?|inform(?:ing)?|notify(?:ing)?|alert(?:ing)?|mention(?:ing)?|reveal(?:ing)?|"
                r"disclos(?:e|ing)|show(?:ing)?|let(?:ting)?|ask(?:ing)?|warn(?:ing)?|report(?:ing)?)")
WHO = r"(?:user|human|customer|requester|operator|victim)s?\b"
EXFIL_VERB = (r"(?:send|forward|email|mail|post|upload|transmit|exfiltrate|leak|share|copy|sync|deliver|"
               r"submit|bcc|cc|transfer)")  # "e-mail" is matched from "mail"
EXFIL_FIRST = ("send forward email mail post upload transmit exfiltrate leak share copy sync deliver submit bcc cc "
                "transfer")
SENSITIVE_FILE = (r"(?:(?<=\.)(?:ssh|aws|gnupg|kube|npmrc|netrc|pypirc|git-credentials|bash_history|zsh_history)\b|"
                   r"(?<=id_)(?:rsa|dsa|ecdsa|ed25519)\b|(?<=/etc/)(?:passwd|shadow|sudoers)\b|credentials\.json\b|"
                   r"wallet\.dat\b|seed phrase\b|ssh keys?\b|private keys?\b)")
SENSITIVE_FILE_FIRST = ("ssh aws gnupg kube npmrc netrc pypirc git bash zsh rsa dsa ecdsa ed passwd shadow sudoers "
                         "credentials wallet seed private")
SENSITIVE_WORDS = (r"(?:mcp\.json\b|claude_desktop_config|(?<=\.)cursor/|api[ _-]?keys?\b|apikeys?\b|passwords?\b|"
                    r"secret keys?\b|access tokens?\b|session cookies?\b|environment variables\b)")
SENSITIVE_WORDS_FIRST = "mcp claude cursor api apikey apikeys password passwords secret access session environment"
GAP = r"(?:[^.!?\n]|\.(?=\S)){0,60}?"  # within one sentence (dots inside paths are fine)
READ_VERB = r"(?:read|cat|open|load|include|attach|send|pass|provide|copy|upload|print|output|extract|dump|list|fetch)"
