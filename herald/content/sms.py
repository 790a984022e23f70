"""How long an SMS is: its encoding and how many segments (parts) it is sent as, per 3GPP
TS 23.038 (the GSM 7-bit default alphabet and its extension table) and TS 23.040
(concatenated SMS with a 6-octet user data header).

    sms_segments("Привет!")     # SmsInfo(encoding='UCS-2', characters=7, units=7, segments=1)
    sms_segments("Price: 10€")  # SmsInfo(encoding='GSM-7', characters=10, units=11, segments=1)

GSM-7 when every character is in the default alphabet or its extension table: a basic
character is one unit (septet), an extension character (|^€{}[]~\\ and form feed) two (the
escape and the character). One segment carries 160 units; a longer text goes in segments
of 153, an escape pair never split across two. Otherwise UCS-2: units are UTF-16 code
units (an emoji is two), 70 in one segment, else 67 per segment, a surrogate pair never
split. An empty text is 0 segments.

No maintained PyPI package does this counting (gsm0338 is a codec only; smsutil and
sms-counter are unmaintained or new), so it lives here; it is a table and a loop.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
SINGLE = {"GSM-7": 160, "UCS-2": 70}
CONCATENATED = {"GSM-7": 153, "UCS-2": 67}


@dataclass(frozen=True)
class SmsInfo:
    encoding: Literal["GSM-7", "UCS-2"]
    characters: int  # as a person counts them (code points)
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def sms_segments(text: str) -> SmsInfo:
    """The encoding, length and number of segments of an SMS with this text."""
    if all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text):
        sizes = [2 if char in GSM7_EXTENSION else 1 for char in text]
        encoding: Literal["GSM-7", "UCS-2"] = "GSM-7"
    else:
        sizes = [2 if ord(char) > 0xFFFF else 1 for char in text]
        encoding = "UCS-2"
    units = sum(sizes)
    if units == 0:
        segments = 0
    elif units <= SINGLE[encoding]:
        segments = 1
    else:
        segments = _pack(sizes, CONCATENATED[encoding])
    return SmsInfo(encoding, len(text), units, segments)


def _pack(sizes: list[int], per_segment: int) -> int:
    """Segments needed when no character (escape pair, surrogate pair) is split."""
    segments, used = 1, 0
    for size in sizes:
        if used + size > per_segment:
            segments += 1
            used = 0
        used += size
    return segments
