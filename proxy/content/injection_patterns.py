"""Prompt-injection pattern families, matched on folded (lower-case, normalised) text.

Every pattern starts at a word from its `first` set (context before it is checked with a
lookbehind), so the scanner tries it only where such a word occurs: `regex.match` at a known
position, never a scan. Gaps are bounded, so matching is linear. Weight 2 = enough on its own,
weight 1 = needs a signal from another family.
"""

from __future__ import annotations

from dataclasses import dataclass

import regex

from proxy.content.injection_vocab import (
    AI,
    AI_FIRST,
    CODEC,
    CODEC_FIRST,
    DEICTIC,
    EXFIL_FIRST,
    EXFIL_VERB,
    GAP,
    QUAL,
    READ_VERB,
    ROLE_FIRST,
    ROLE_KIND,
    ROLE_WORD,
    SENSITIVE_FILE,
    SENSITIVE_FILE_FIRST,
    SENSITIVE_WORDS,
    SENSITIVE_WORDS_FIRST,
    STRONG_OBJ,
    TELL_VERB,
    VERB,
    VERB_FIRST,
    WEAK_OBJ,
    WHO,
)

OVERRIDE, ROLE, TEMPLATE, MARKUP, SECRECY, CHAINING, ADDRESSING, HIJACK, DECODE, VERDICT = (
    "override", "role", "template", "markup", "secrecy", "tool_chaining", "ai_addressing", "task_hijack",
    "decode_request", "verdict_steering")
@dataclass(frozen=True, slots=True)
class Pattern:
    id: str
    family: str
    weight: int
    first: frozenset[str]  # a match starts at one of these words ([a-z]+ tokens)
    regex: regex.Pattern[str]
    also: tuple[frozenset[str], ...] = ()  # word groups the text must also contain (one of each): a cheap prefilter
    guard: str = ""  # "line": the first word opens its line; "bracket": it follows "[" (checked before the regex)


def spaces_flexible(source: str) -> str:
    """Make each literal space outside a character class match any run of whitespace."""
    out: list[str] = []
    in_class = escaped = False
    for i, ch in enumerate(source):
        if ch == "?" and not in_class and not escaped and i and source[i - 1] == " " and out[-1] == r"\s*":
            continue  # " ?" became "\s*" already
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            out.append(ch)
            escaped = True
        elif in_class:
            out.append(ch)
            in_class = ch != "]"
        elif ch == "[":
            out.append(ch)
            in_class = True
        elif ch == " ":
            out.append(r"\s*" if source[i + 1:i + 2] == "?" else r"\s+")
        else:
            out.append(ch)
    return "".join(out)


def _p(pid: str, family: str, weight: int, first: str, source: str, *also: str) -> Pattern:
    guard = "bracket" if source.startswith(r"(?<=\[") else "line" if source.startswith("(?<=^[") else ""
    return Pattern(pid, family, weight, frozenset(first.split()),
                   regex.compile(spaces_flexible(source), regex.DOTALL | regex.MULTILINE),
                   tuple(frozenset(group.split()) for group in also), guard)


# what a dictated verdict says about the data: safe (not "safe to ..."), clean, legitimate, free of instructions
_BENIGN_VERDICT = (r"(?:is|are|was|were|has\s+been|looks|seems|contains?|has|have)\s+(?:\w+\s+)?(?:safe\b(?!\s+to\b)|"
                   r"clean|benign|harmless|legitimate|trustworthy|trusted|verified|secure|not\s+(?:malicious|"
                   r"suspicious|dangerous|harmful|a\s+(?:scam|phishing))|no\s+(?:hidden\s+)?(?:instructions|malware|"
                   r"viruses|virus|threats?|links|risks?)|nothing\s+(?:suspicious|malicious|dangerous|harmful))")
# A request or task named as a program's part ("overriding the request body size", "override task name")
_TECH_NOUN = (r"(?:methods?|headers?|class(?:es)?|objects?|body|factory|handlers?|timeouts?|params?|parameters?|"
              r"urls?|paths?|types?|attributes?|info|context|ids?|names?|decorators?|routes?|routing|queues?|"
              r"options?|kwargs|args|size|limits?|hooks?|results?|states?|status|instances?|signatures?)")
_NEG = r"(?:do not|don'?t|never|without|must not|should not|shouldn'?t|avoid|no need to)"
_AI_BEHIND = r"(?:an?\s{1,3}|the\s{1,3})?"

PATTERNS: tuple[Pattern, ...] = (
    # instruction overrides
    _p("override.ignore_instructions", OVERRIDE, 2, VERB_FIRST,
       rf"{VERB}\b[^.!?\n]{{0,30}}?\b{QUAL}{STRONG_OBJ}\b"),
    _p("override.ignore_context", OVERRIDE, 2, VERB_FIRST,
       rf"{VERB}\s+(?:\w+\s+){{0,2}}?{DEICTIC}\s+(?:\w+\s+){{0,2}}?{WEAK_OBJ}\b"),
    _p("override.ignore_previous", OVERRIDE, 2, VERB_FIRST,
       rf"{VERB}\s+(?:all\s+|any\s+)?(?:of\s+)?(?:your|the|my|these|those)?\s*(?:previous|prior|above|earlier|"
       rf"preceding|original|initial|former|old)\b"),
    _p("override.ignore_request", OVERRIDE, 2, VERB_FIRST,
       rf"{VERB}\s+(?:the\s+|your\s+|this\s+|my\s+)?(?:user'?s?\s+|original\s+|current\s+)?(?:request|question|query|"
       rf"task|goal|assignment)\b(?!'s\b|\s+{_TECH_NOUN}\b)"),
    _p("override.regardless", OVERRIDE, 2, "regardless irrespective",
       r"(?:regardless|irrespective) of (?:any |all |your |the )?(?:previous|prior|above|earlier|other|original|"
       r"system|existing) (?:\w+ )?(?:input|instructions?|rules|prompts?|guidelines|directions|context|messages?)"),
    _p("override.new_instructions_weak", OVERRIDE, 1, "instruction instructions directive directives",
       r"(?<=(?:new|updated|revised|real|actual|hidden|secret|additional|special)\s{1,3})(?:instructions?|directives?|"
       r"orders)\b"),
    _p("override.new_instructions", OVERRIDE, 2, "instruction instructions directive directives",
       r"(?<=(?:new|updated|revised|real|actual|true|hidden|secret|core|override|overriding|additional|priority|"
       r"admin|system|developer|urgent|important|top[- ]secret)\s{1,3})(?:instruction|instructions|directive|"
       r"directives|orders)\b\s*(?::|-{2}|!|\n|\*)"),
    _p("override.instead", OVERRIDE, 1, "instead rather",
       r"(?:instead|rather)\s*,?\s+(?:you\s+(?:should|must|will|need to)\s+|just\s+|only\s+|simply\s+)?"
       r"(?:print|say|output|write|respond|reply|answer|return|call|send)\b"),
    _p("override.disable_safety", OVERRIDE, 1, "disable deactivate bypass remove lift",
       r"(?:disable|deactivate|bypass|remove|lift|turn off|switch off)\s+(?:all\s+|any\s+|the\s+|your\s+)?"
       r"(?:safety|content|security|ethical|moderation)\s+(?:filters?|guardrails?|restrictions?|guidelines|checks|"
       r"protocols?|measures|rules)"),
    # the same override in other languages (German, French, Spanish, Italian, Portuguese)
    _p("override.other_language", OVERRIDE, 2, "ignoriere ignorieren ignoriert vergiss vergessen missachte "
       "ignorez ignore oubliez oublie ignora ignorar olvida olvide olvidar dimentica esquece esque",
       r"(?:ignorier(?:e|en|t)(?: sie)?|vergiss|vergessen sie|missachte|ignorez|oubliez|oublie|ignora|ignorar|olvida|"
       r"olvide|olvidar|dimentica|esque\wa|esquece)\s+(?:\w+\s+){0,3}?(?:anweisungen|instruktionen|befehle|"
       r"vorgaben|instructions|consignes|instrucciones|indicaciones|istruzioni|instru\w\w?es|orienta\w\w?es)\b"),
    _p("override.no_deviation", OVERRIDE, 2, "deviate depart stray",
       r"(?<=(?:may not|must not|cannot|can't|do not|don't|never|shall not)\s{1,3})(?:deviate|depart|stray)"
       r"\s+from\s+(?:this|these|the|my)"),
    # role and system impersonation
    _p("role.bracketed", ROLE, 2, ROLE_FIRST,
       rf"(?<=\[\s{{0,3}}){ROLE_WORD}(?:[ _-]?{ROLE_KIND})?\s*(?:::|\])"),
    _p("role.labelled_message", ROLE, 1, ROLE_FIRST,
       rf"(?<=^[ \t>*#-]{{0,8}}){ROLE_WORD}\s+{ROLE_KIND}s?\s*[:\-]"),
    _p("role.line_label", ROLE, 1, ROLE_FIRST, rf"(?<=^[ \t>*#-]{{0,8}}){ROLE_WORD}\s*:\s+(?=[a-z])"),
    _p("role.inline_label", ROLE, 1, ROLE_FIRST,
       rf"(?<=[.!?]\s{{1,3}}){ROLE_WORD}\s+{ROLE_KIND}s?\s*:"),
    _p("role.bracketed_ai_label", ROLE, 1, AI_FIRST, rf"(?<=[\[(]\s{{0,3}}){AI}\s*:\s*\S"),
    _p("role.message_from", ROLE, 1, "message note instructions notice update",
       r"(?:message|note|instructions?|notice|update)\s+from\s+(?:openai|anthropic|google deepmind|the developers?|"
       r"your developers?|your creators?|the system administrator|the system|your administrator)\b"),
    _p("role.authority_instructing", ROLE, 1, "instructing ordering commanding directing authorizing",
       r"(?<=(?:i am|i'm|we are|we're)\s{1,3})(?:instructing|ordering|commanding|directing|authorizing)\s+you\s+to\b"),
    _p("role.markdown_system", ROLE, 2, "system",
       r"(?<=#{1,6}\s{0,3}\(?\s{0,3})system[ _-]?(?:message|prompt|instruction)"),
    _p("role.persona", ROLE, 2, "persona role identity jailbroken jailbreak dan developer",
       r"(?<=your new\s{1,3})(?:persona|role|identity) (?:is|are)|(?:developer|dan|jailbreak) mode|jailbroken"),
    # "you are now logged in", "from now on, you can reach me at...": weak alone (see `injection_agentic`)
    _p("role.persona_weak", ROLE, 1, "now longer",
       r"(?<=you(?:'re| are)\s{1,3})now\b|(?<=from\s{1,3})now on,? you|(?<=you are no\s{1,3})longer\b"),
    _p("role.grant_privileges", ROLE, 2, "grant enable unlock",
       r"(?:grant|enable|unlock)\s+(?:me\s+|yourself\s+)?(?:temporary\s+|full\s+|unrestricted\s+)?(?:admin|"
       r"administrative|administrator|root|elevated|developer|god|sudo)\s+(?:privileges|access|rights|mode|permissions)"),
    _p("role.unrestricted_persona", ROLE, 2, "no unrestricted unfiltered uncensored jailbroken evil dan",
       r"(?<=you(?:'re| are)\s{1,3}(?:now\s{1,3})?(?:an?\s{1,3})?)(?:no[ -]limits?|unrestricted|unfiltered|uncensored|"
       r"jailbroken|evil|dan)\b"),
    _p("role.act_as", ROLE, 1, "act behave pretend",
       r"(?:act|behave|pretend) (?:as if you (?:are|were)|to be|as an? )"),
    # chat-template tokens (the "<" forms are in MARKUP_REGEX) and fake conversation turns
    _p("template.inst_token", TEMPLATE, 2, "inst", r"(?<=\[/?)inst\]"),
    _p("template.instruction_header", TEMPLATE, 2, "instruction instructions response system input human assistant",
       r"(?<=(?:^|[.!?]\s{1,3})\s{0,3}#{2,4}\s{0,3})(?:instruction|instructions|response|system|input|human|"
       r"assistant)\s*:"),
    _p("template.turn_pair", TEMPLATE, 2, "assistant ai model gpt chatgpt claude bot user human",
       r"(?<=^[ \t>*]{0,4})(?:(?:assistant|ai|model|gpt|chatgpt|claude|bot)\s*:[^\n]{0,300}\n"
       r"(?:[^\n]{0,300}\n){0,3}?[ \t>*]{0,4}(?:user|human)|(?:user|human)\s*:[^\n]{0,300}\n"
       r"(?:[^\n]{0,300}\n){0,3}?[ \t>*]{0,4}(?:assistant|ai|model|gpt|chatgpt|claude|bot))\s*:\s*\S"),
    _p("template.fake_turn", TEMPLATE, 1, "assistant ai model gpt chatgpt claude bot user human",
       r"(?<=^[ \t>*]{0,4})(?:assistant|ai|model|gpt|chatgpt|claude|bot|user|human)\s*:\s*\S"),
    # secrecy demands
    _p("secrecy.dont_tell_user", SECRECY, 2,
       "tell telling inform informing notify notifying alert alerting mention mentioning reveal revealing "
       "disclose disclosing show showing let letting ask asking warn warning report reporting",
       rf"(?<={_NEG}\s{{1,3}}(?:\w+\s{{1,3}}){{0,3}}){TELL_VERB}\s+(?:\w+\s+){{0,2}}?(?:the\s+)?{WHO}",
       "not don never without avoid no shouldn",
       "user users human humans customer customers requester requesters operator operators victim victims"),
    _p("secrecy.user_must_not_know", SECRECY, 2, "user users human humans customer customers",
       r"(?:user|human|customer)s?\s+(?:must|should|will|may|need|does)\s*(?:not|never|n't)\s+"
       r"(?:\w+\s+){0,2}?(?:know|see|notice|find out|be (?:told|informed|aware|notified)|learn|suspect)",
       "not never t", "know see notice find told informed aware notified learn suspect"),
    _p("secrecy.silently_act", SECRECY, 2, "silently secretly quietly covertly discreetly stealthily notice "
       "noticing confirmation asking permission",
       rf"(?:silently|secretly|quietly|covertly|discreetly|stealthily|(?<=without (?:any )?)(?:notice|noticing|"
       rf"confirmation|asking|permission))\s+(?:\w+\s+){{0,2}}?(?:{EXFIL_VERB}|include|append|add|call|invoke|"
       rf"run|execute|read|delete|modify|change|insert|embed)\b"),
    _p("secrecy.dont_mention_this", SECRECY, 2,
       "mention reveal disclose repeat acknowledge explain reference output print show",
       r"(?<=(?:do not|don'?t|never)\s{1,3})(?:mention|reveal|disclose|repeat|acknowledge|explain|reference|output|"
       r"print|show)\s+(?:this|these|that|the|any of these|any of this)\s+(?:\w+\s+)?(?:instruction|instructions|"
       r"message|note|step|steps|request|part|section|text|directive)s?\b",
       "not don never"),
    _p("secrecy.dont_mention_that", SECRECY, 2, "mention reveal disclose tell let",
       r"(?<=(?:do not|don'?t|never)\s{1,3})(?:mention|reveal|disclose|tell anyone|let on)\s+(?:that|this|it|"
       r"any of)\b"),
    _p("secrecy.keep_secret", SECRECY, 1, "keep",
       r"keep (?:this|it|these|the following)\s+(?:\w+\s+)?(?:secret|hidden|confidential|between us)"),
    # tool-chaining and exfiltration instructions
    _p("chaining.sensitive_file", CHAINING, 2, SENSITIVE_FILE_FIRST,
       rf"(?<=\b{READ_VERB}\b{GAP}){SENSITIVE_FILE}",
       "read cat open load include attach send pass provide copy upload print output extract dump list fetch"),
    _p("chaining.sensitive_data", CHAINING, 1, SENSITIVE_WORDS_FIRST,
       rf"(?<=\b{READ_VERB}\b{GAP}){SENSITIVE_WORDS}",
       "read cat open load include attach send pass provide copy upload print output extract dump list fetch"),
    _p("chaining.param_smuggle", CHAINING, 2, "content contents value values output result text data",
       r"(?<=(?:pass|put|include|add|provide|send|append|embed|insert|encode)\s{1,3}(?:its|the|their|all|this|"
       r"that|your|those|these)\s{1,3}(?:\w+\s{1,3}){0,2})(?:content|contents|value|values|output|result|text|"
       r"data)\s+(?:as|in|into|inside|to|within)\s+(?:the\s+|a\s+)?[`'\"]?[\w.-]+[`'\"]?\s*(?:parameter|"
       r"argument|field|param|arg|variable|property)",
       "pass put include add provide send append embed insert encode",
       "parameter argument field param arg variable property"),
    _p("chaining.redirect_all", CHAINING, 2,
       "sent forwarded redirected copied bcc bcced cc routed uploaded transferred delivered",
       r"(?<=(?:all|every|any)\s{1,3}(?:\w+\s{1,3})?(?:emails?|messages?|files?|data|results?|replies|responses|"
       r"payments?|transfers?)\s{1,3}(?:must|should|will|shall|are to)\s{1,3}(?:also\s{1,3}|now\s{1,3}|"
       r"always\s{1,3})?(?:be\s{1,3})?)(?:sent|forwarded|redirected|copied|bcc'?e?d|cc'?e?d|routed|uploaded|"
       r"transferred|delivered)\s+to"),
    _p("chaining.exfil_to", CHAINING, 1, EXFIL_FIRST,
       rf"{EXFIL_VERB}\b[^\n]{{0,80}}?\b(?:to|at|into)\s+(?:<?[\w.+-]+@[\w-]+\.[\w.]+|https?://|the "
       r"(?:following )?(?:address|url|endpoint|webhook|server|email))"),
    _p("chaining.fill_placeholder", CHAINING, 1, "replace whereas",
       r"(?:replace\s+\[[a-z _-]{2,20}\]\s+with|where(?:as)?\s+\[?[a-z_]{2,20}\]?\s+is\s+(?:an?\s+|the\s+)?"
       r"(?:base64|url|mime|hex)?[\s-]*(?:encoded\s+)?)"),
    _p("chaining.call_tool", CHAINING, 1, "tool function",
       r"(?<=(?:call|invoke|use|run|execute|trigger)\s{1,3}(?:the\s{1,3})?[`'\"]?[a-z][\w.-]{2,40}[`'\"]?"
       r"\s{1,3})(?:tool|function)\s+(?:with|to|and|using|passing)\b",
       "call invoke use run execute trigger", "with to and using passing"),
    _p("chaining.before_using", CHAINING, 1, "tool function",
       r"(?<=(?:before|after|when|whenever|each time)\s{1,3}(?:you\s{1,3})?(?:use|using|call|calling|invoke|"
       r"invoking|run|running)\s{1,3}(?:this|the|any|that|every)\s{1,3}(?:\w+\s{1,3})?)(?:tool|function)",
       "before after when whenever each", "use using call calling invoke invoking run running"),
    # text that addresses the model
    _p("addressing.if_you_are_ai", ADDRESSING, 2, AI_FIRST, rf"(?<=if you(?:'re| are)\s{{1,3}}{_AI_BEHIND}){AI}\b"),
    _p("addressing.note_to_ai", ADDRESSING, 2, AI_FIRST,
       rf"(?<=(?:note|message|instructions?|attention|notice|reminder|request|memo|directive)\s{{1,3}}(?:to|for)"
       rf"\s{{1,3}}(?:the\s{{1,3}}|all\s{{1,3}}|any\s{{1,3}})?){AI}\b"),
    _p("addressing.ai_reading", ADDRESSING, 2, AI_FIRST,
       rf"{AI}\s+(?:that is |who is |currently )?(?:reading|processing|parsing|summari[sz]ing|analy[sz]ing|"
       rf"scanning|reviewing|evaluating)\s+(?:this|these|the)\b"),
    _p("addressing.salutation", ADDRESSING, 2, "dear hey hello hi attention listen psst",
       rf"(?<=(?:^|[\n.!?:])\s{{0,3}})(?:dear|hey|hello|hi|attention|listen|psst)\s*,?\s+{AI}\s*[,:!]"),
    _p("addressing.to_you_model", ADDRESSING, 2, AI_FIRST,
       rf"(?<=to you,?\s{{1,3}}(?:the\s{{1,3}})?){AI}\b"),
    _p("addressing.hidden_from_humans", ADDRESSING, 2, "invisible hidden visible unseen",
       r"(?:invisible|hidden|(?<=not\s{1,3})visible|unseen)\s+(?:to|from)\s+(?:the\s+)?(?:humans?|users?|people|"
       r"readers?|reviewers?|recruiters?)|visible (?:only )?to (?:the )?(?:ai|llms?|models?|language "
       r"models?|automated)"),
    _p("addressing.important_message", ADDRESSING, 1, "important urgent critical official priority",
       r"(?<=this is (?:an?\s{1,3})?(?:very\s{1,3}|really\s{1,3}|extremely\s{1,3})?)(?:important|urgent|critical|"
       r"official|priority)\b"),
    _p("addressing.hidden_for_ai", ADDRESSING, 2, "hidden secret invisible private",
       rf"(?:hidden|secret|invisible|private)\s+(?:[\w-]+\s+){{0,3}}?(?:for|to)\s+(?:the\s+|all\s+|any\s+)?{AI}\b"),
    _p("addressing.alarm", ADDRESSING, 1, "important urgent critical attention warning everything now stop emergency",
       r"(?:important|urgent|critical|attention|warning|everything|now|stop|emergency)\s*(?:!{2,}|\*{2,})"),
    # task hijacking
    _p("hijack.before_task", HIJACK, 2,
       "solve solving complete completing answer answering finish finishing continue continuing",
       r"(?<=(?:before|instead of)\s{1,3}(?:you\s{1,3})?(?:can\s{1,3})?)(?:solve|solving|complete|completing|"
       r"answer|answering|finish|finishing|continue with|continuing with)\s+(?:the|your|this|my)\s+(?:\w+\s+)?"
       r"(?:task|request|question|assignment|job)"),
    _p("hijack.task_i_gave", HIJACK, 2, "task", r"task\s+(?:that\s+)?(?:i|the user)\s+(?:gave|assigned|asked)"),
    _p("hijack.new_goal", HIJACK, 2, "task goal objective job mission purpose priority directive directives orders",
       r"(?<=your\s{1,3}(?:real|true|actual|new|updated|primary|main|only|sole|next|first)\s{1,3})(?:task|goal|"
       r"objective|job|mission|purpose|priority|directives?|orders)\s+(?:is|are|now|will be)\b"),
    _p("hijack.if_asked", HIJACK, 2, "asked questioned",
       r"(?<=if\s{1,3}(?:you\s{1,3}are\s{1,3}|you're\s{1,3})?)(?:asked|questioned)\b[^.!?\n]{0,100}?(?:simply\s+|"
       r"just\s+|only\s+|always\s+)?(?:respond|reply|answer|say|state|output|print|report)\s+(?:with|that|only|"
       r"exactly)?"),
    _p("hijack.stop_everything", HIJACK, 2, "stop",
       # "stop all" alone or of the reader's work, not "stop all active patches"
       r"stop\s+(?:everything|all(?=\s*(?:[.!,:;\n]|$)|\s+(?:and|tasks?|work|processing|previous|current|other|"
       r"actions?|activities|operations)\b)|what you(?:'re| are) doing|now|immediately)\b"
       # "the init script's Stop now works": a stop command that is the subject
       r"(?!\s+(?:works?|worked|is|was|does|did|returns?|waits?|handles?|runs?|uses?|accepts?|correctly|properly)\b)"),
    _p("hijack.output_only", HIJACK, 1, "print say output respond reply answer repeat return write type",
       r"(?:print|say|output|respond with|reply with|answer with|return|write|repeat|type)\s+(?:only\s+|"
       r"exactly\s+|just\s+|verbatim\s+)?(?:the following|these words|this (?:text|sentence|phrase|message)|"
       r"after me|back)\b|(?:respond|reply|answer)\s+(?:only\s+)?with\s+(?:only|exactly|just|the following)|"
       r"(?<=(?:just|only|simply)\s{1,3})(?:print|say|output|respond|reply)\b",
       "only exactly verbatim following words after back"),
    _p("hijack.in_your_response", HIJACK, 2, "response answer reply output summary",
       r"(?<=(?:include|add|append|insert|put|write|output|print|mention|say|state|repeat|place)\b[^.!?\n]{0,80}?"
       r"(?:in|to|at the (?:end|start|beginning) of|within)\s{1,3}your\s{1,3})(?:response|answer|reply|output|"
       r"summary)\b",
       "your"),
    _p("hijack.your_response", HIJACK, 1, "response answer reply output summary",
       r"(?<=(?:in|to|at the end of|within)\s{1,3}your\s{1,3})(?:response|answer|reply|output|summary)\b",
       "your"),
    _p("hijack.if_told", HIJACK, 2, "told asked instructed requested",
       r"(?<=if\s{1,3}(?:you\s{1,3}are|you're)\s{1,3})(?:told|asked|instructed|requested)\s+to\s+(?:summari[sz]e|"
       r"answer|translate|review|analy[sz]e|evaluate|explain|describe|respond)"),
    _p("hijack.forgot_to_ask", HIJACK, 2, "forgot",
       r"forgot\s+to\s+(?:ask|tell|instruct|remind|mention to)\s+you"),
    _p("hijack.new_task", HIJACK, 2, "task tasks",
       r"(?<=(?:new|urgent|priority|special|secret|real|actual|next|additional|important)\s{1,3})tasks?\s*[:!*]"),
    _p("hijack.your_task_is", HIJACK, 1, "task job",
       r"(?<=your\s{1,3})(?:task|job)\s+(?:is|will be)\s+(?:now\s+)?to\b"),
    _p("hijack.assigned", HIJACK, 1, "assigned given tasked",
       r"(?<=you(?:'ve| have)\s{1,3}been\s{1,3})(?:assigned|given|tasked)\b"),
    _p("hijack.do_the_following", HIJACK, 1, "must need following execute perform",
       r"(?:(?<=you\s{1,3})(?:must|need to)|(?<=do\s{1,3}the\s{1,3})following|(?<=please\s{1,3})(?:execute|"
       r"perform))\s*:"),
    _p("hijack.testing_pretext", HIJACK, 1, "testing debugging",
       r"(?<=for\s{1,3})testing purposes|(?<=to enable\s{1,3})debugging", "purposes enable"),
    _p("hijack.generate_response", HIJACK, 1, "generate write give produce",
       r"(?:generate|write|give|produce)\s+(?:a\s+|your\s+)?(?:response|answer|reply)\s+to\s+(?:answer|the following)",
       "response answer reply"),
    _p("hijack.todo", HIJACK, 1, "todo",
       r"todo\s*:\s*(?:please\s+)?(?:(?:also|then|now|quickly)\s+)?(?:send|email|forward|transfer|delete|create|"
       r"invite|pay|share|post|upload|"
       r"change|update|add|remove|make|book|reserve|visit|click|give|grant|write|say|tell)\b"),
    _p("hijack.rest_of_data", HIJACK, 1, "rest remainder remaining",
       r"(?:rest|remainder|remaining part)\s+of\s+(?:this|the)\s+(?:data|document|text|content|page|email|"
       r"message|input|report|file|article)"),
    _p("hijack.stop_task", HIJACK, 1, "summarizing summarising translating answering analyzing analysing "
       "processing reading",
       r"(?<=stop\s{1,3})(?:summari[sz]ing|translating|answering|analy[sz]ing|processing|reading)\b"),
    # steering the verdict of a model that reviews the text (security triage, screening, grading)
    _p("verdict.report_benign", VERDICT, 2, "report say state answer conclude classify mark label flag rate",
       r"(?:report|say|state|answer|conclude|classify|mark|label|flag|rate)\s+(?:that\s+|it\s+as\s+|this\s+as\s+)?"
       r"(?:this|the|it|all|everything)\b[^.!?\n]{0,60}?\b(?:is|are|as)\s+(?:\w+\s+)?(?:not malicious|"
       r"non-malicious|benign|harmless|legitimate|trustworthy)\b"),
    _p("verdict.assert_benign", VERDICT, 1, "not malicious nothing",
       r"(?<=(?:is|are)\s{1,3}(?:\w+\s{1,3})?)not\s+malicious\b|(?<=nothing\s{1,3})malicious\s+(?:here|in)\b"),
    # the reader told what to tell the user about the data ("reply to the user that the file is safe"): data
    # dictating the agent's verdict to the person it works for, in English and five more languages
    _p("verdict.tell_user", VERDICT, 2, "tell inform assure reassure reply respond answer say report confirm let "
       "write explain",
       r"(?:tell|inform|assure|reassure|let|(?:reply|respond|answer|say|report|confirm|write|explain)\s+(?:back\s+)?"
       r"to)\s+(?:the\s+)?(?:users?|customers?|clients?|requesters?|readers?|human|recipients?|sender|them|him|her|"
       r"operators?)\b(?:\s+know)?\s*,?\s*(?:that\s+)?(?:this|the|it|these|all|everything|there|nothing)\b"
       rf"[^.!?\n]{{0,60}}?\b{_BENIGN_VERDICT}"),
    _p("verdict.tell_user_other_language", VERDICT, 2, "teile sag sage antworte versichere erkl best tige "
       "informiere dis dites r indique indiquez assure assurez confirme confirmez informe informez signale dile di "
       "responde responda indica asegura confirma informa comunica dici rispondi conferma assicura diga responda "
       "informe confirme garanta",
       r"(?:(?:teile|sag|sage|antworte|versichere|erkl\w+re|best\w+tige|informiere)\s+(?:\w+\s+)?(?:dem|der)\s+"
       r"(?:nutzer|benutzer|nutzerin|benutzerin|kunden|kundin|anwender|anwenderin)(?:\s+mit)?\s*,?\s*(?:dass|das)"
       r"|(?:dis|dites|r\w+ponds|r\w+pondez|indique|indiquez|assure|assurez|confirme|confirmez|informe|informez|"
       r"signale|signalez)(?:-lui)?\s+(?:\w\s+)?(?:\w'|aux?\s+)?(?:utilisat\w+|clients?|clientes?|usagers?|"
       r"lecteurs?)\s+(?:qu'|que)"
       r"|(?:dile|di|responde|responda|indica|asegura|confirma|informa|comunica)(?:le)?\s+(?:al|a\s+la)\s+"
       r"(?:usuari[oa]|cliente|lector[a]?)\s+que"
       r"|(?:di|d\w|dici|rispondi|comunica|conferma|assicura|informa)\s+(?:all'|al|alla)\s*(?:utente|cliente|"
       r"lettore)\s+che"
       r"|(?:diga|diz|responda|responde|informe|confirme|garanta|assegure)\s+(?:ao|\w)\s+(?:usu\w+rio|utilizador|"
       r"cliente|leitor)\s+que)"
       r"\b[^.!?\n]{0,60}?\b(?:sicher|harmlos|unbedenklich|legitim|vertrauensw\w+rdig|sauber|keine\s+"
       r"(?:anweisungen|schadsoftware|malware|gefahr)|s\w+r|sans\s+danger|inoffensi\w+|l\w+gitime|fiable|"
       r"ne\s+contient\s+(?:aucune?|pas)|segur[oa]s?|inofensiv[oa]s?|leg\w+tim[oa]s?|confiables?|no\s+contiene|"
       r"sicur[oa]|innocu[oa]|affidabile|non\s+contiene|confi\w+vel|n\w+o\s+cont\w+m)"),
    # requests to decode an embedded payload
    _p("decode.instruction", DECODE, 2, "decode decipher decrypt unscramble interpret",
       rf"(?:decode|decipher|decrypt|unscramble|interpret)\s+the\s+following\s+(?:\w+\s+){{0,2}}?{CODEC}"),
    _p("decode.instruction_weak", DECODE, 1, "decode decipher decrypt unscramble interpret convert translate",
       rf"(?:decode|decipher|decrypt|unscramble|interpret|convert|translate)\s+(?:this\s+|these\s+|it\s+from\s+)?"
       rf"(?:\w+\s+){{0,2}}?{CODEC}"),
    _p("decode.completion", DECODE, 2, "decoded decode plaintext",
       r"(?<=encoded(?:\s+\w+)?\s*:[^\n]{1,400}\n(?:\s*\n)?\s{0,3})(?:decoded|decode|plaintext)(?:\s+\w+)?\s*:"),
    _p("decode.assemble", DECODE, 1, "concatenate join combine assemble merge",
       r"(?:concatenate|join|combine|assemble|merge)\s+(?:these|the following|the|all)\s+(?:\w+\s+)?(?:strings|"
       r"pieces|parts|fragments|chunks|tokens|characters|letters)",
       "strings pieces parts fragments chunks tokens characters letters"),
    _p("decode.cue", DECODE, 2, CODEC_FIRST,
       rf"{CODEC}[\s-]+(?:encoded|decoded|encoding of)\s+(?:string|text|message|payload|data|version)\s*:",
       "encoded decoded encoding"),
    _p("hijack.dont_do_task", HIJACK, 1, "evaluate assess summarize summarise translate analyze analyse review",
       r"(?<=(?:do not|don'?t)\s{1,3})(?:evaluate|assess|summari[sz]e|translate|analy[sz]e|review)\s+(?:the|this)"),
)

BY_FIRST: dict[str, tuple[Pattern, ...]] = {}
for _pattern in PATTERNS:
    for _word in _pattern.first:
        BY_FIRST[_word] = (*BY_FIRST.get(_word, ()), _pattern)

FIRST_WORDS = frozenset(BY_FIRST)
