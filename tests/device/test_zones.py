"""Custom time-zone rules of system/timezone (zone=custom): the manual's UTC±HH:MM and POSIX rules."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, strategies as st

from emulator.device import zones

JULY = 1_690_000_000  # 2023-07-22
NOVEMBER = 1_700_000_000  # 2023-11-14


@pytest.mark.parametrize("rule, winter, summer", [
    ("UTC0", 0, 0),
    ("GMT0BST,M3.5.0/1,M10.5.0", 0, 60),
    ("CET-1CEST,M3.5.0,M10.5.0/3", 60, 120),
    ("AEST-10AEDT,M10.1.0,M4.1.0/3", 660, 600),  # the southern summer is in November
    ("<-03>3", -180, -180),
    ("IST-5:30", 330, 330),
    ("UTC+05:45", 345, 345),
    ("UTC-00:30", -30, -30),
])
def test_rules_give_the_offset_of_the_date(rule, winter, summer):
    tz = zones.custom(rule)
    assert (zones.shift(tz, NOVEMBER), zones.shift(tz, JULY)) == (winter, summer)


def test_the_manuals_form_is_east_plus_west_minus_unlike_posix():
    assert zones.shift(zones.custom("UTC-08:00"), JULY) == -480  # Los Angeles, the manual's example
    assert zones.shift(zones.custom("UTC8"), JULY) == -480  # POSIX: 8 hours west
    assert zones.shift(zones.custom("UTC-8"), JULY) == 480  # POSIX: 8 hours east
    assert zones.shift(zones.custom("UTC+3:00"), JULY) == -180  # not the manual's exact UTC±HH:MM: POSIX


@pytest.mark.parametrize("rule", ["", "junk", "XYZ", "EST5EDT", "CET-1CEST,M3.5.0", "UTC+14:01", "UTC+03:60",
                                  "UTC 0", "UTC0\n", "A-25", "X" * 65])
def test_what_is_not_a_rule(rule):
    with pytest.raises(ValueError):
        zones.custom(rule)


@given(st.text(max_size=80))
def test_any_text_is_a_zone_or_a_value_error(text):
    try:
        tz = zones.custom(text)
    except ValueError:
        return
    assert isinstance(tz, datetime.tzinfo)
    assert -24 * 60 < zones.shift(tz, JULY) < 25 * 60
