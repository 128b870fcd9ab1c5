"""Markup forms of prompt injection (chat-template tokens, alarm tags, instructing HTML comments).

They all start with "<", so one pass of `re` over the whole text finds them fast (literal prefix).
"""

from __future__ import annotations

import re

from proxy.content.injection_patterns import MARKUP, TEMPLATE, spaces_flexible
from proxy.content.injection_vocab import AI

# Markup starts with "<": one pass of `re` over the whole text finds it fast (literal prefix).
_MARKUP: tuple[tuple[str, str, int, str], ...] = (
    ("template.special_token", TEMPLATE, 2,
     r"\|\s*(?:im_start|im_end|im_sep|endoftext|end_of_text|system|user|assistant|end|eot_id|eom_id|"
     r"begin_of_text|start_header_id|end_header_id|start|message|channel|return|call|fim_\w+|pad|"
     r"endofprompt|tool_call|tool)\s*\|>|</?sys>>|(?:start|end)_of_turn>|"
     r"\|?\s*(?:end|start) of (?:session|turn|conversation|prompt|document|context)\s*\|?>"),
    ("markup.alarm_tag", MARKUP, 2,
     r"\s*/?\s*(?:system|secret|hidden|admin|override|ai[_-]?instructions?|assistant[_-]?instructions?|"
     r"system[_-]?(?:reminder|prompt|message|instructions?)|instructions? for (?:the )?(?:ai|assistant|model))"
     r"\b[^<>]{0,40}>"),
    ("markup.emphasis_tag", MARKUP, 1,
     r"\s*/?\s*(?:important|information|info|instructions?|critical|mandatory|urgent|priority|"
     r"note[_-]?to[_-]?(?:ai|assistant|model)|sidenote)\b[^<>]{0,40}>"),
    ("markup.comment", MARKUP, 0, r"!--"),  # judged by `comment_instructs` on the comment's content
)
_COMMENT_IMPERATIVE = re.compile(r"\b(?:you must|you should|you will|do not|don't|never|always|please|ignore|"
                                 r"disregard|instructions?)\b")
# Who a comment speaks to: a model named outright (not an "AI tool" or "AI-generated" code), any AI word in
# the vocative or as the subject of a duty ("Bot: ...", "if you are an agent", "the assistant must"), or the
# user as a person (not the user agent, guide or interface). "The stale bot closes issues" speaks to no bot.
_AI_NAMED = (r"(?:ai|llms?|(?:large )?language models?|assistants?|chatbots?|gpt-?[\w.]*|chatgpt|claude|gemini|"
             r"copilot)\b(?![\s-]+(?:tools?|generated|assisted|features?|usage|policy|policies|code)\b)")
_SPOKEN_TO = re.compile(
    rf"\b(?:(?:dear|hey|hi|hello|attention|note to|instructions? (?:for|to)|message (?:for|to)|if you are|you are|as)"
    rf"\s+(?:the\s+|an?\s+|any\s+|all\s+)?(?:\w+\s+)?{AI}\b|{AI}\s*[:,]|"
    rf"{AI}\s+(?:must|should|shall|needs? to|is (?:required|instructed) to|will now|has to)\b)")
_COMMENT_ADDRESSEE = re.compile(
    rf"\b{_AI_NAMED}|{_SPOKEN_TO.pattern}|"
    r"\bthe user\b(?!'s|\s+(?:agents?|guide|manual|interface|docs?|documentation|names?|ids?|base|groups?|lists?|"
    r"accounts?|experience|stor(?:y|ies)|settings?|config(?:uration)?|data|input|directory|home|site|level|mode)\b)")


# An issue or pull-request template's comment speaks to the person filling it in ("Thanks for your pull
# request! Please describe what the user sees"); there "the user", a bot or a model is no addressee.
_TEMPLATE_COMMENT = re.compile(r"\b(?:your (?:issue|pull request|pr|bug report|report|contribution|changes|feature "
                               r"request|patch)|this (?:issue|pull request|pr|template|form)|before (?:submitting|"
                               r"opening|filing|posting)|thanks? (?:you )?for (?:your|opening|reporting|contributing|"
                               r"submitting)|steps to reproduce|contributing guidelines|code of conduct|checklist|"
                               r"duplicate|fill (?:out|in)|remove (?:any |the |this )?sections?|"
                               r"the following information|(?:bug|feature) report|minimal reproducible example|"
                               r"reproducer|traceback|expected behaviou?r|issue tracker|discussions?|maintainers|"
                               r"changelog entry|stale)\b")
_COMMENT_AI = re.compile(r"\b(?:ai|llms?|(?:large )?language models?|(?:ai )?assistants?|chatbots?|gpt-?[\w.]*|"
                         r"chatgpt|claude|gemini|copilot)\b")


def comment_instructs(content: str) -> bool:
    """An HTML comment that gives an instruction and addresses the model (or mentions the user); in an issue
    or pull-request template, only one that names an AI."""
    if _COMMENT_IMPERATIVE.search(content) is None or _COMMENT_ADDRESSEE.search(content) is None:
        return False
    return (_TEMPLATE_COMMENT.search(content) is None or _COMMENT_AI.search(content) is not None
            or _SPOKEN_TO.search(content) is not None)


# A tag that is no tag: a reStructuredText link target (`` :ref:`the admin <admin-inlines>` ``, `` `text
# <target>`_ ``), or an element named in prose ("do not insert <system_message> elements").
_NAMED_ELEMENT = re.compile(r"\s{1,3}(?:elements?|tags?|nodes?)\b")


def names_a_tag(low: str, start: int, end: int) -> bool:
    """The markup at low[start:end] is a reST link target or an element talked about, not a tag in the text."""
    if low.startswith("`", end):
        return low.rfind("`", max(0, start - 200), start) >= 0
    return _NAMED_ELEMENT.match(low, end) is not None


MARKUP_IDS: tuple[tuple[str, str, int], ...] = tuple((pid, fam, w) for pid, fam, w, _ in _MARKUP)
MARKUP_REGEX = re.compile(
    "<(?:" + "|".join(f"(?P<m{i}>{spaces_flexible(src)})" for i, (_, _, _, src) in enumerate(_MARKUP)) + ")",
    re.DOTALL)
