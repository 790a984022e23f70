"""SMS length (herald/content/sms.py): encoding and segments per 3GPP TS 23.038/23.040."""

from __future__ import annotations

import pytest

from herald.content.sms import SmsInfo, sms_segments


@pytest.mark.parametrize(
    ("text", "segments"),
    [
        ("a" * 160, 1),
        ("a" * 161, 2),
        ("a" * 153 * 2, 2),
        ("a" * (153 * 2 + 1), 3),
        ("a" * 153 * 10, 10),
    ],
)
def test_gsm7_takes_160_in_one_segment_then_153_per_segment(text, segments):
    info = sms_segments(text)
    assert (info.encoding, info.segments) == ("GSM-7", segments)


def test_an_extension_character_counts_two_units():
    assert sms_segments("a" * 158 + "€") == SmsInfo("GSM-7", 159, 160, 1)
    assert sms_segments("a" * 159 + "€") == SmsInfo("GSM-7", 160, 161, 2)
    assert sms_segments("|^€{}[]~\\").units == 18


def test_an_escape_pair_is_never_split_across_two_segments():
    # 152 + 2 + 152 = 306 units would fill two segments of 153, but the euro sign cannot
    # straddle them, so it opens the second one, which then overflows into a third.
    assert sms_segments("a" * 152 + "€" + "a" * 152).segments == 3
    assert sms_segments("a" * 151 + "€" + "a" * 153).segments == 2


@pytest.mark.parametrize(("count", "segments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_cyrillic_is_ucs2_with_70_then_67_per_segment(count, segments):
    info = sms_segments("я" * count)
    assert (info.encoding, info.units, info.segments) == ("UCS-2", count, segments)


def test_one_character_outside_gsm7_makes_the_whole_text_ucs2():
    assert sms_segments("a" * 69 + "й").encoding == "UCS-2"
    assert sms_segments("¿Qué tal, Ñoño? §5 @home £3 ¥4 ü").encoding == "GSM-7"


def test_an_emoji_is_two_utf16_units_and_is_not_split():
    assert sms_segments("😀" * 35) == SmsInfo("UCS-2", 35, 70, 1)
    assert sms_segments("😀" * 36).segments == 2
    assert sms_segments("a" * 66 + "😀" + "a" * 66).segments == 3


def test_an_empty_text_is_no_segment():
    assert sms_segments("") == SmsInfo("GSM-7", 0, 0, 0)
