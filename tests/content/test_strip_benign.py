"""Strip never damages legitimate text: the real scanner, with default settings, leaves benign multilingual
text and terminal output byte-for-byte unchanged and unflagged; with an attack mixed in, only the attack goes.
"""

# ruff: noqa: RUF001 - letters of other scripts are the subject matter here

from __future__ import annotations

import pytest

from proxy.content.scanner import Scanner
from proxy.content.settings import DEFAULT_ACTIONS, ContentSettings

LRE, RLE, PDF, RLO = "\u202a", "\u202b", "\u202c", "\u202e"
LRI, RLI, FSI, PDI, LRM, RLM, ALM = "\u2066", "\u2067", "\u2068", "\u2069", "\u200e", "\u200f", "\u061c"
ZWSP, ZWNJ, ZWJ, WJ, SHY = "\u200b", "\u200c", "\u200d", "\u2060", "\u00ad"
ST = "\x1b\\"
STRIP_SURFACES = [s for s, rules in DEFAULT_ACTIONS.items() if rules["unicode"] == "strip"]


def link(target: str, label: str, terminator: str = ST, params: str = "") -> str:
    return f"\x1b]8;{params};{target}{terminator}{label}\x1b]8;;{terminator}"


RIGHT_TO_LEFT = [
    f"הורדת {LRI}report-2024.pdf{PDI} הושלמה: {RLI}%d{PDI} מתוך {RLI}%d{PDI} קבצים.",
    f'msgid "Saved %(count)d files to %(folder)s"\nmsgstr "{RLE}נשמרו %(count)d קבצים בתיקייה %(folder)s{PDF}"',
    f'המחיר הוא 49.90 ₪{RLM}, כולל מע"מ. לשאלות פנו אל {LRI}support@example.com{PDI}.',
    f"{RLM}התחברו לחשבון {LRI}GitHub{PDI} שלכם כדי להמשיך{RLM}.",
    f'<string name="files_selected">{RLM}%1$d קבצים נבחרו</string>',
    f"تم رفع {LRI}{{0}}{PDI} من أصل {LRI}{{1}}{PDI} ملفات إلى {LRE}Google Drive{PDF}.",
    f"الإصدار {ALM}2.4.1{ALM} متاح الآن، يرجى التحديث قبل {LRM}31/12/2025{LRM}.",
    f'"welcome": "مرحبًا {FSI}{{name}}{PDI}، لديك {FSI}{{count}}{PDI} رسائل جديدة",',
    f"للمزيد من المعلومات زوروا {LRI}https://example.org/help?lang=ar&v=2{PDI} .",
    f"فایل {LRI}settings.json{PDI} با موفقیت ذخیره شد{RLM}. نسخهٔ {LRE}3.11{PDF} پایتون نصب شده است.",
    f"تاریخ انتشار: {LRM}2024-03-15{LRM} — شما می{ZWNJ}توانید {RLI}%s{PDI} را دانلود کنید.",
    f"{RLE}שלום עולם, הגרסה החדשה זמינה",
]

JOINERS = [
    f"हिन्दी में र्{ZWJ}य और क्{ZWNJ}ष जैसे संयोजन अलग दिखते हैं।",
    f"বাংলায় র{ZWJ}্যাপিড শব্দটি এভাবে লেখা হয়।",
    f"తెలుగు లో క్{ZWNJ}ష రూపం కూడా ఉంది.",
    f"അവന്{ZWJ} വന്നു, അവള്{ZWJ} പോയി.",
    f"ශ්{ZWJ}රී ලංකාව සුන්දර රටකි. වාක්{ZWJ}ය",
    f"ಕನ್ನಡ ಕ್{ZWJ}ಷ, தமிழ் க்{ZWJ}ஷ, ગુજરાતી ક્{ZWJ}ષ, ਪੰਜਾਬੀ ਕ੍{ZWJ}ਸ, ଓଡ଼ିଆ କ୍{ZWJ}ଷ",
    f"می{ZWNJ}خواهم این کتاب{ZWNJ}ها را تا فردا بخوانم.",
    f"الحرف {ZWJ}ه{ZWJ} في وسط الكلمة يكتب هكذا.",
]

UNSPACED = [
    f"ภาษาไทย{ZWSP}ไม่มี{ZWSP}ช่องว่าง{ZWSP}ระหว่าง{ZWSP}คำ ติดตั้ง{ZWSP}Python 3.12{ZWSP}เรียบร้อยแล้ว",
    f"ខ្ញុំ{ZWSP}ចូលចិត្ត{ZWSP}រៀន{ZWSP}ភាសា{ZWSP}ខ្មែរ{ZWSP}ណាស់។",
    f"ພາສາ{ZWSP}ລາວ{ZWSP}ເປັນ{ZWSP}ພາສາ{ZWSP}ທາງການ",
    f"မြန်မာ{ZWSP}ဘာသာ{ZWSP}စကား{ZWSP}ကို{ZWSP}လေ့လာ{ZWSP}နေသည်။",
    f"བོད{ZWSP}ཡིག་ ꦧꦱꦗꦮ{ZWSP}ꦲꦏ꧀ꦱꦫ ᬩᬲᬩᬮᬶ{ZWSP}ᬅᬓ᭄ᬱᬭ",
    f"東京{ZWSP}タワー{ZWSP}の{ZWSP}夜景 ราคา{WJ}100{WJ}บาท",
]

SOFT_HYPHENS = [
    f"Die Donau{SHY}dampf{SHY}schiff{SHY}fahrts{SHY}gesellschaft und die Stra\u00dfen{SHY}bahn{SHY}halte{SHY}stelle.",
    f"Rechts{SHY}schutz{SHY}versicherung, Über{SHY}weisungs{SHY}träger",
    f"lento{SHY}kone{SHY}suihku{SHY}turbiini{SHY}moottori{SHY}apu{SHY}mekaanikko",
    f"пре{SHY}до{SHY}став{SHY}ле{SHY}ние, हिन्{SHY}दी, Cafe\u0301{SHY}teria",
]

TERMINAL = [
    "\x1b[1;34m" + link("https://rich.readthedocs.io", "rich", params="id=123") + "\x1b[0m is a library",
    "src/main.c:12:9: \x1b[01;35m\x1b[Kwarning: \x1b[m\x1b[Kunused variable "
    "\u2018\x1b[01m\x1b[Kcount\x1b[m\x1b[K\u2019 [\x1b[01;35m\x1b[K" + link("https://gcc.gnu.org/onlinedocs/gcc/Warning-Options.html#index-Wunused-variable",
                                "-Wunused-variable") + "\x1b[m\x1b[K]",
    link("file://build-01/home/dana/project/README.md", "README.md") + "  "
    + link("file://build-01/home/dana/project/src", "\x1b[01;34msrc\x1b[0m") + "  "
    + link("file://build-01/home/dana/project/setup.py", "setup.py") + "\n",
    "\u25cf ssh.service - OpenBSD Secure Shell server\n     Loaded: loaded ("
    + link("file://web01/usr/lib/systemd/system/ssh.service", "/usr/lib/systemd/system/ssh.service", "\x07")
    + "; enabled)\n       Docs: " + link("man:sshd(8)", "man:sshd(8)", "\x07"),
    link("https://github.com/cli/cli/pull/8123", "#8123") + "  Fix pager detection  "
    + link("https://github.com/cli/cli", "cli/cli"),
    link("https://docs.python.org/3/library/re.html", "https://docs.python.org/3/library/re.html")
    + " and " + link("https://www.python.org/downloads/", "python.org"),
]

FLUENT = [  # Fluent and ICU wrap every placeholder of a left-to-right message in FSI…PDI (or LRI…PDI)
    "Downloading \u2068report-2026.pdf\u2069 (\u20683.2 MB\u2069 of \u206812 MB\u2069)",
    "\u2068Alice Martin\u2069 shared \u2068Quarterly plan\u2069 with you",
    "Remove \u2066{ $count }\u2069 selected items?",
]

BREAKS_AT_PUNCTUATION = [  # ZWSP at a word boundary in text of a script written without spaces
    f"ពុំមានឯកសារ។{ZWSP}\nចាំបាច់បំពេញទិន្នន័យកន្លែងនេះ។",
    f"ឈ្មោះដមែន\xa0(domain name{ZWSP})។{ZWSP}ឧទាហរណ៍\xa0'/events/search/'។",
    f"Boolean (អាចជា True{ZWSP} រឺ\xa0False រឺ None)",
    f'msgstr "ការ{ZWSP}គ្រប់គ្រង{ZWSP}របស់\xa0{ZWSP}Django"',
    f"ภาษาไทย ฯลฯ{ZWSP} และ กรุงเทพฯ{ZWSP} มหานคร",
    f"မြန်မာ{ZWSP}စာ။{ZWSP} ဘာသာ{ZWSP}၊{ZWSP}",
]

REPEATS_AND_LONE = [  # a repeated key inside a word of the script; a lone invisible between whitespace
    f"ആദ്യമായി ഒരു യൂസർനെയിമും പാസ്{ZWNJ}{ZWNJ}വേഡും നൽകുക.",
    f"មូលដ្ឋាន{ZWSP}ទិន្នន័យ{ZWSP}{ZWSP}{ZWSP}\xa0របស់លោកអ្នក\xa0មានបញ្ហា។",
    f"ទិន្នន័យនេះ{ZWSP}{ZWSP}បានឬទេ?",
    f"254\t172\tAC\t¬\tЗНАК ОТРИЦАНИЯ\n255\t173\tAD\t{SHY}\tМЯГКИЙ ПЕРЕНОС\n",
]

PERSIAN = [
    f"نسخهٔ ۲۰{ZWNJ}ام منتشر شد و 3{ZWNJ}تا فایل دارد.",
    f"فایل{ZWNJ}های PDF{ZWNJ}ها و %s{ZWNJ}های دیگر ذخیره شد.",
    f"کتاب){ZWNJ} ها را ببینید.{ZWNJ}",
]

MANUAL_PAGES = [  # SGR and other escape sequences right before Cyrillic words
    "       \x1b[1m--si   \x1b[22mто же, но использует степень 1000, а не 1024\n",
    "\x1b[1mСМ. ТАКЖЕ\x1b[0m\n       \x1b[1mmknod\x1b[22m(1), \x1b[1mmount\x1b[22m(8)\n",
    "геометрию дискового накопителя \x1b[4mкак\x1b[24m \x1b[4mэто\x1b[24m  \x1b[4mпонимается\x1b[24m ядром",
    "\x1b[1mДИВ. ТАКОЖ\x1b[0m\n       \x1b[1;4mопис\x1b[0m, \x1b[32mтекст\x1b[m (т.е. всё, и т.д.)",
]

SAMPLES = (RIGHT_TO_LEFT + JOINERS + UNSPACED + SOFT_HYPHENS + TERMINAL + FLUENT + BREAKS_AT_PUNCTUATION
           + REPEATS_AND_LONE + PERSIAN + MANUAL_PAGES)


@pytest.mark.parametrize("surface", STRIP_SURFACES)
@pytest.mark.parametrize("text", SAMPLES)
def test_benign_text_is_unflagged_and_unchanged(text: str, surface: str) -> None:
    outcome = Scanner(ContentSettings()).scan_text(text, surface)
    if surface == "tool_description" and "\x1b]8;" in text:
        return  # a tool description carries no links: see the test below
    assert [h.detector for h, _ in outcome.hits] == []
    assert outcome.rewritten is None and not outcome.block


@pytest.mark.parametrize("text", [t for t in TERMINAL if "\x1b]8;" in t])
def test_every_hyperlink_in_a_tool_description_is_reported_and_stripped(text: str) -> None:
    outcome = Scanner(ContentSettings()).scan_text(text, "tool_description")
    assert {h.detector for h, _ in outcome.hits} == {"escapes.osc8"}
    assert outcome.rewritten is not None and "\x1b]8;" not in outcome.rewritten and not outcome.block


def test_the_strip_surfaces_are_the_ones_that_matter() -> None:
    assert {"tool_result", "resource", "tool_description"} <= set(STRIP_SURFACES)


@pytest.mark.parametrize(("benign", "attack", "after"), [
    (RIGHT_TO_LEFT[0], f" invoice{RLO}gnp.exe", " invoicegnp.exe"),
    (RIGHT_TO_LEFT[5], f" /*{RLO} }} {LRI}if (isAdmin){PDI} {LRI} begin admins only */",
     " /* } if (isAdmin)  begin admins only */"),
    (JOINERS[6], f" login at paypal{ZWSP}.com", " login at paypal.com"),
    (UNSPACED[0], f" os.{ZWSP}system", " os.system"),
    (SOFT_HYPHENS[0], f" A{SHY}{SHY}B", " AB"),
    (TERMINAL[0], link("https://evil.example/login", "https://github.com/org/repo"), "https://github.com/org/repo"),
    (TERMINAL[2], link("javascript:alert(1)", "notes.txt"), "notes.txt"),
    (BREAKS_AT_PUNCTUATION[0], f" os.{ZWSP}system", " os.system"),
    (REPEATS_AND_LONE[0], f" pass{ZWNJ}{ZWNJ}word", " password"),
])
def test_strip_removes_only_the_attack(benign: str, attack: str, after: str) -> None:
    outcome = Scanner(ContentSettings()).scan_text(benign + attack, "tool_result")
    assert outcome.flagged and all(action == "strip" for _, action in outcome.hits)
    assert outcome.rewritten == benign + after
