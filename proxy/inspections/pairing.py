"""Every answer must answer a request that was forwarded the other way; anything else is refused
(modern-era input responses nobody asked for are dropped from the request instead, as servers ignore them).

Which request an answer belongs to is found before the pipeline runs (`proxy.pairing`): the transport
knows the agent's requests it forwarded; the server's requests to the agent (sampling, elicitation,
roots, and modern-era input requests) are remembered in the shared store, because the agent's answer
may reach another replica. This check refuses what could not be paired.
"""

from __future__ import annotations

from proxy.decision import Decision, deny
from proxy.errors import ErrorCode
from proxy.exchange import Exchange
from proxy.pipeline import Inspection
from proxy.types import MessageKind, Verdict

RULE = "unsolicited-answer"
UNPAIRED_INPUT_NOTE = "unpaired_input_responses"


class AnswerPairing(Inspection):
    name = "pairing"

    def applies(self, ex: Exchange) -> bool:
        return ex.kind in (MessageKind.RESPONSE, MessageKind.ERROR) or UNPAIRED_INPUT_NOTE in ex.notes

    def inspect(self, ex: Exchange) -> Decision | None:
        if ex.kind in (MessageKind.RESPONSE, MessageKind.ERROR) and ex.request is None:
            return deny(f"answer to no request in flight (id {ex.id!r}); refused", code=ErrorCode.INVALID_REQUEST,
                        rule_ids=(RULE,), check=self.name)
        unpaired: list[str] = ex.notes.get(UNPAIRED_INPUT_NOTE) or []
        responses = ex.params.get("inputResponses")
        if not unpaired or not isinstance(responses, dict):
            return None
        # The protocol has servers ignore input responses they did not ask for: they are dropped here, so what
        # the server never asked for never reaches it (SEP-2322).
        kept = {k: v for k, v in responses.items() if k not in unpaired}
        params = {**ex.params, "inputResponses": kept}
        return Decision(Verdict.REWRITE, message={**ex.message, "params": params}, check=self.name,
                        note={"removed_input_responses": unpaired[:20]})
