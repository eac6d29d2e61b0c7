"""What an inbound SMS asks for: opt-out, opt-in, help, or nothing of the kind (a reply).

The carrier keywords (STOP, START, HELP...) as the whole message, and, as the
FCC's 2025 revocation rule requires, any message that plainly asks us to stop
texting, in English or Spanish, while leaving alone the messages that use the
same words in another sense ("the water won't stop"). A wrong-number reply
counts as an opt-out: texting on would be texting someone who never agreed to
it. START, YES and HELP count only as the whole message.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Literal

SmsIntent = Literal["opt_out", "opt_in", "help", "other"]

# --- inbound keywords -----------------------------------------------------------------

#: Whole-message keywords (after case, accents, spaces and punctuation are ignored).
OPT_OUT_KEYWORDS = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"}
    | {"opt out", "stop all", "unsub", "alto", "baja", "basta", "cancelar", "detener"}
)
OPT_IN_KEYWORDS = frozenset({"start", "yes", "unstop"})
HELP_KEYWORDS = frozenset({"help", "info", "ayuda"})

#: Words that add nothing to a keyword: "STOP please", "stop it now!!", "alto ya por favor".
_FILLER = frozenset(
    [
        "please",
        "pls",
        "plz",
        "plx",
        "pleas",
        "pleease",
        "thanks",
        "thank",
        "thankyou",
        "thx",
        "ty",
        "you",
        "u",
        "ok",
        "okay",
        "k",
        "now",
        "it",
        "already",
        "just",
        "all",
        "me",
        "asap",
        "immediately",
        "right",
        "seriously",
        "really",
        "again",
        "ahora",
        "ya",
        "por",
        "favor",
        "gracias",
        "the",
        "this",
        "that",
        "sir",
        "maam",
        "ma'am",
        "oh",
        "god",
        "omg",
        "damn",
        "dammit",
        "hell",
        "fucking",
        "fuck",
        "freaking",
        "frickin",
        "stupid",
        "i",
        "said",
        "u",
        "said",
        "yo",
        "hey",
        "hi",
        "hello",
        "bro",
        "dude",
        "lol",
        "man",
    ]
)
#: Keywords that stop the messages even alongside other sentences ("Not interested. STOP").
_STRONG = frozenset({"stop", "stopall", "unsubscribe", "optout", "revoke", "unsub", "alto"})
_FILLER_KEYWORDS = _STRONG | {"cancel", "quit", "end", "baja", "basta", "cancelar", "remove"}

_MESSAGES = (
    r"(?:text|texts|texting|txt|txts|txting|txtin|textin|message|messages|messaging|msg|msgs"
    r"|sms|sending|send|contacting|contact|calling|call|calls|bothering|harassing|spamming|spam"
    r"|emailing|emails|notifications|alerts|promos|promotions|ads|marketing|solicitations?"
    r"|reminders|updates|offers|msging|msgin|messagin|mandando|enviando|mensajes|textos)"
)
_OPT_OUT_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        # "stop texting me", "pls stop sending these", "quit messaging this number"
        rf"\b(?:stop|stopp+|quit|cease|end)(?:ping)? (?:all |the |these |those |your |ur |this "
        rf"|ya |with the |with |sending me |sending |me )*{_MESSAGES}\b",
        r"\bun ?subscribe\b|\bunsub\b|\bopt(?:ing)? ?(?:me )?out\b|\boptout\b",
        r"\b(?:remove|delete|erase|lose|take|drop) (?:me|us|my (?:number|name|info|phone|cell|#)"
        r"|this (?:number|phone|cell|#))\b",
        r"\b(?:take|get|drop) (?:me|us|my number|this number|my name) off\b",
        r"\boff (?:of )?(?:your|the|ur|this|ya) (?:list|contact list|mailing list|texting list"
        r"|text list|call list|sms list)\b",
        r"\b(?:do not|don't|dont|never|not|no longer) (?:ever )?(?:want to )?"
        r"(?:text|txt|message|msg|contact|sms|call|email|bother|spam) (?:me|us|this|my|here"
        r"|again|anymore|any more|no more)\b(?! (?:number )?(?:before|after|until|till|at|during"
        r"|between|on weekends|so early|so late|this early|this late|at work))",
        r"\b(?:do not|don't|dont) (?:call|text|contact|message|sms|email) list\b|\bcease and desist\b",
        rf"\bno (?:more )?(?:more )?{_MESSAGES}\b(?! (?:from|to) (?:the|my) (?:insurance|adjuster))",
        rf"\b(?:i|we) (?:do not|don't|dont) (?:want|wish|need) (?:to (?:receive|get) )?(?:any )?"
        rf"(?:more |further )?(?:of )?(?:your |these |this |ur )?(?:kind of )?{_MESSAGES}\b",
        rf"\b(?:do not|don't|dont|never|stop|quit) (?:send|sending)(?: me| us)?(?: any| no)?"
        rf"(?: more)? {_MESSAGES}\b",
        r"\b(?:asked|told|said|telling|asking|ask|tell)(?: you| u| ya| y'?all)?(?: guys)?"
        r"(?: to| 2)? stop\b",
        r"\bleave (?:me|us) alone\b|\blose (?:my|this) number\b",
        r"\bwrong (?:number|num|#|person)(?![a-z0-9])|\bnot the right (?:number|person)\b",
        r"\brevoke\b|\bstopall\b",
        r"\bcancel (?:me|my subscription|these|the (?:texts|messages|alerts)|all (?:texts|messages))\b",
        # Spanish: "no me envíen más mensajes", "dejen de mandarme", "denme de baja"
        r"\bno (?:me |nos )?(?:envien|envies|manden|mandes|escriban|escribas|contacten|contactes"
        r"|llamen|llames|texteen|textees|molesten|molestes)\b",
        r"\bya no (?:me |nos )?(?:envien|manden|escriban|quiero|queremos|contacten|molesten)\b",
        r"\b(?:dejen|deja|dejar|paren|para|pare) de (?:enviar|mandar|escribir|textear|molestar"
        r"|llamar|contactar)",
        r"\bno (?:quiero|queremos|deseo) (?:recibir )?(?:mas |ningun |ningunos )?(?:sus |tus )?"
        r"(?:mensajes|textos|sms|promociones|llamadas)\b",
        r"\b(?:darme|dame|denme|deme|dar|me doy|doy|darnos|dennos) de baja\b",
        r"\b(?:borr|elimin|quit|sac)(?:en|ar|a|e)(?:me|nos)? (?:mi|nuestro|este) (?:numero|telefono"
        r"|cel|celular)\b",
        r"\b(?:sacame|saquenme|quitame|quitenme|borrenme|eliminenme|sacarme|quitarme) de\b",
        r"\bno mas (?:mensajes|textos|sms|msgs|texts|messages)\b|\bnumero equivocado\b",
    )
)
#: What may follow a leading "stop" in its other senses: "stop by", "stop the leak".
_STOP_SENSES = frozenset(
    [
        "by",
        "in",
        "over",
        "at",
        "the",
        "a",
        "sign",
        "light",
        "that",
        "this",
        "leak",
        "leaks",
        "water",
        "drip",
        "dripping",
        "running",
        "leaking",
        "working",
        "when",
        "if",
        "what",
        "how",
        "and",
        "so",
        "for",
        "from",
        "to",
    ]
)
_STRETCHED_STOP = re.compile(r"\bs+t+o+p+s*\b")
_WORD = re.compile(r"[a-z0-9#']+")
_CLAUSE = re.compile(r"[.!?;,\n:()\-]+")


def sms_intent(body: str) -> SmsIntent:
    """What an inbound SMS asks for: opt_out, opt_in, help, or other (a reply to read).

    The carrier keywords count as the whole message; a message that plainly asks us to stop
    texting counts as an opt-out wherever its words come; START/YES/UNSTOP and HELP/INFO
    count only alone, since "yes" and "help" begin many real replies.
    """
    text = _fold_sms(body)
    words = _WORD.findall(text)
    whole = " ".join(words)
    if whole in OPT_OUT_KEYWORDS:
        return "opt_out"
    if whole in OPT_IN_KEYWORDS:
        return "opt_in"
    if whole in HELP_KEYWORDS:
        return "help"
    if _keyword_with_filler(words, _FILLER_KEYWORDS):
        return "opt_out"
    # A short message led by "stop" in no other sense: "STOP you idiots", "stop u guys".
    if 2 <= len(words) <= 4 and words[0] == "stop" and words[1] not in _STOP_SENSES:
        return "opt_out"
    for clause in _CLAUSE.split(text):
        if _keyword_with_filler(_WORD.findall(clause), _STRONG):
            return "opt_out"
    if any(pattern.search(whole) for pattern in _OPT_OUT_PATTERNS):
        return "opt_out"
    return "other"


def _keyword_with_filler(words: list[str], keywords: frozenset[str]) -> bool:
    """Whether the words are one of `keywords` (perhaps repeated) with nothing but filler."""
    meaningful = {word for word in words if word not in _FILLER}
    return len(meaningful) == 1 and meaningful <= keywords


def _fold_sms(text: str) -> str:
    """Lower-case, accents folded, curly quotes straightened."""
    text = text.replace("\u2019", "'").replace("\u2018", "'")
    return _STRETCHED_STOP.sub("stop", _fold(text))


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))
